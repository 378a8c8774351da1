"""Reading the change-event streams in tests: bounded waits, what is stored.

Nothing here asserts timing: each wait for a streamed event is bounded only so
a broken stream fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import grpc

from identity_api.v1 import identity_pb2 as pb
from tests.identity_svc.support import GATEWAY, OPERATOR, new_org_id, struct, user_doc

WAIT_SECONDS = 15.0
ADMIN = "admin@x.test"


async def take(call: Any, count: int) -> list[pb.Event]:
    """The next `count` events of a stream, failing if they do not come."""
    async with asyncio.timeout(WAIT_SECONDS):
        received: list[pb.Event] = []
        for _ in range(count):
            event = await call.read()
            assert event is not grpc.aio.EOF, f"stream ended after {received}"
            received.append(event)
        return received


def _user_name(event: pb.Event) -> str | None:
    return str(event.data["userName"]) if "userName" in event.data else None


async def take_until_user(call: Any, user_name: str) -> list[pb.Event]:
    """Events of a stream up to the creation of `user_name`."""
    async with asyncio.timeout(WAIT_SECONDS):
        received: list[pb.Event] = []
        while not received or _user_name(received[-1]) != user_name:
            event = await call.read()
            assert event is not grpc.aio.EOF, f"stream ended after {received}"
            received.append(event)
        return received


async def drain(call: Any) -> list[pb.Event]:
    """Every event of a stream that ends by itself (follow=False)."""
    async with asyncio.timeout(WAIT_SECONDS):
        return [event async for event in call]


async def create_user(prov, org: str, user_name: str, request_id: str = "r") -> pb.User:
    context = pb.RequestContext(actor=GATEWAY.actor, request_id=request_id)
    return await prov.CreateUser(
        pb.CreateUserRequest(context=context, org_id=org, attributes=struct(user_doc(user_name)))
    )


async def new_org(admin) -> str:
    org = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=org, name="Org", admin_email=ADMIN)
    )
    return org


async def stored_seqs(db_pool: asyncpg.Pool, org: str) -> list[int]:
    rows = await db_pool.fetch("SELECT seq FROM events WHERE org_id = $1 ORDER BY seq", org)
    return [row["seq"] for row in rows]


async def stored(db_pool: asyncpg.Pool, org: str, after: int = 0) -> list[tuple[int, str]]:
    """(seq, type) of the org's committed events after `after`: what a stream must show."""
    rows = await db_pool.fetch(
        "SELECT seq, type FROM events WHERE org_id = $1 AND seq > $2 ORDER BY seq", org, after
    )
    return [(row["seq"], row["type"]) for row in rows]


async def position(db_pool: asyncpg.Pool, org: str) -> int:
    return int(await db_pool.fetchval("SELECT event_seq FROM orgs WHERE org_id = $1", org))


def seq_types(events: list[pb.Event]) -> list[tuple[int, str]]:
    return [(e.seq, e.type) for e in events]
