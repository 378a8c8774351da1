"""Stage, then sequence (identity_svc/sequencer.py, db/events.py; SPEC §6).

Writes of one org no longer queue on the org row through commit: each stages
its events, and the sequencer numbers committed ones. These tests show the
writes in flight together, and the numbering still gap-free, each event once,
in an order that respects what each write saw. Waits are bounded only so a
regression fails instead of hanging; nothing asserts timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, cast

import asyncpg

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.events import _LOCK_ORG_SEQUENCE, PendingEvent, append_events
from identity_svc.db.pool import create_pool
from identity_svc.domain.models import Actor, WriteContext
from identity_svc.sequencer import Sequencer
from identity_svc.services import users as user_service
from tests.identity_svc.event_support import (
    WAIT_SECONDS,
    create_user,
    new_org,
    position,
    seq_types,
    stored,
    take,
    take_until_user,
)
from tests.identity_svc.support import GATEWAY, path, user_doc, value

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

WRITERS = 16


async def _create_then_patch(prov, org: str, worker: int, rounds: int) -> list[str]:
    """Users created then patched by one writer; each call is one write."""
    created = []
    title = pb.PatchOperation(op=pb.PatchOperation.REPLACE, path=path("title"), value=value("T"))
    for i in range(rounds):
        user = await create_user(prov, org, f"s{worker}-{i}@x.test")
        await prov.PatchUser(
            pb.PatchUserRequest(context=GATEWAY, org_id=org, user_id=user.id, operations=[title])
        )
        created.append(user.id)
    return created


async def _numbered(db_pool: asyncpg.Pool, org: str) -> list[asyncpg.Record]:
    return await db_pool.fetch(
        "SELECT seq, type, resource_id FROM events WHERE org_id = $1 ORDER BY seq", org
    )


async def _staged(db_pool: asyncpg.Pool, org: str) -> int:
    return int(await db_pool.fetchval("SELECT count(*) FROM event_staging WHERE org_id = $1", org))


def _user_events(rows: list[asyncpg.Record], user_id: str) -> list[str]:
    kinds = ("user.created", "user.updated")
    return [r["type"] for r in rows if r["resource_id"] == user_id and r["type"] in kinds]


async def test_many_writers_in_one_org_are_numbered_1_to_n_once_and_followed_in_order(
    events, prov, admin, db_pool
):
    org = await new_org(admin)
    call = events.WatchEvents(pb.WatchEventsRequest(org_id=org, after_seq=0, follow=True))
    await call.initial_metadata()
    # Each write is its own RPC on its own pool connection, 16 in flight.
    per_writer = await asyncio.gather(
        *(_create_then_patch(prov, org, worker, 3) for worker in range(WRITERS))
    )
    last = await position(db_pool, org)  # every write has answered: all numbered
    followed = await take(call, last)
    call.cancel()
    rows = await _numbered(db_pool, org)
    assert [r["seq"] for r in rows] == list(range(1, last + 1))  # no gap, no duplicate
    assert seq_types(followed) == [(r["seq"], r["type"]) for r in rows]  # live, in order
    users = [user_id for ids in per_writer for user_id in ids]
    assert len(users) == WRITERS * 3
    for user_id in users:  # each write's event once, a patch after its create
        assert _user_events(rows, user_id) == ["user.created", "user.updated"]
    assert await _staged(db_pool, org) == 0


class _HeldPool:
    """Pool-shaped: lends one connection inside a transaction the test commits."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        yield self.conn


async def test_two_writes_of_one_org_are_in_flight_uncommitted_at_once(events, prov, org, db_pool):
    """The structural proof: no write holds what another write of the org needs."""
    start = await position(db_pool, org)
    call = events.WatchEvents(pb.WatchEventsRequest(org_id=org, after_seq=start, follow=True))
    await call.initial_metadata()
    context = WriteContext(Actor("scim_key", "held"), "held-write")
    async with db_pool.acquire() as held:
        write_a = held.transaction()
        await write_a.start()
        # Write A: the product's whole create path (role upkeep, staging), not committed.
        pool = cast(asyncpg.Pool, _HeldPool(held))
        user_a = await user_service.create_user(pool, context, org, user_doc("a@x.test"))
        # Write B of the same org, through the RPC, answers while A is still open.
        user_b = await asyncio.wait_for(create_user(prov, org, "b@x.test"), WAIT_SECONDS)
        during = await take_until_user(call, "b@x.test")
        assert during[-1].resource_id == user_b.id
        assert await stored(db_pool, org, start) == seq_types(during)  # nothing of A
        await write_a.commit()
    # Nobody asks for A's events (as if its process died after the commit):
    # the sweep numbers them, after B's.
    after = await take_until_user(call, "a@x.test")
    call.cancel()
    assert after[-1].resource_id == user_a.id
    assert after[0].seq == during[-1].seq + 1
    assert await stored(db_pool, org, start) == seq_types(during + after)


async def _sequencer_waits_for_the_org_lock(db_pool: asyncpg.Pool) -> None:
    query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query = $1"
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            if await db_pool.fetchval(query, _LOCK_ORG_SEQUENCE):
                return
            await asyncio.sleep(0.01)


async def test_a_write_that_saw_another_commit_is_numbered_after_it_in_one_batch(
    org, db_pool, identity_server
):
    """Staging order, not transaction ids, orders a batch; sequencers take the org lock."""
    start = await position(db_pool, org)
    a_events = [
        PendingEvent(org, "test.a1", "Test", "a"),
        PendingEvent(org, "test.a2", "Test", "a"),
    ]
    async with (
        db_pool.acquire() as holder,
        db_pool.acquire() as write_a,
        db_pool.acquire() as write_b,
    ):
        hold = holder.transaction()
        await hold.start()
        # What every sequencer locks first: while it is held, nothing is numbered,
        # so A and B are numbered together, in one batch.
        await holder.execute(_LOCK_ORG_SEQUENCE, org)
        b = write_b.transaction()
        await b.start()
        await write_b.fetchval("SELECT pg_current_xact_id()")  # B's transaction id comes first
        async with write_a.transaction():
            await append_events(write_a, a_events, "test", "a")
        # B stages after A's commit (which it could have read): it comes after A.
        await append_events(write_b, [PendingEvent(org, "test.b", "Test", "b")], "test", "b")
        await b.commit()
        asked = asyncio.create_task(identity_server.sequencer.sequenced([org]))
        await _sequencer_waits_for_the_org_lock(db_pool)
        assert await stored(db_pool, org, start) == []
        await hold.rollback()
        await asyncio.wait_for(asked, WAIT_SECONDS)
    assert await stored(db_pool, org, start) == [
        (start + 1, "test.a1"),
        (start + 2, "test.a2"),
        (start + 3, "test.b"),
    ]


async def test_sequencers_of_two_replicas_number_each_event_once(
    prov, admin, db_pool, database_url
):
    """A second process's sequencer sweeps the same org while the first serves writes."""
    org = await new_org(admin)
    rival_pool = await create_pool(database_url, min_size=1, max_size=4)
    rival = Sequencer(rival_pool, sweep_seconds=0.01)
    rival.start()
    try:
        per_writer = await asyncio.gather(
            *(_create_then_patch(prov, org, worker, 3) for worker in range(8))
        )
    finally:
        await rival.close()
        await rival_pool.close()
    rows = await _numbered(db_pool, org)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    for user_id in (u for ids in per_writer for u in ids):
        assert _user_events(rows, user_id) == ["user.created", "user.updated"]
    assert await _staged(db_pool, org) == 0
