"""Graceful shutdown of both services, as processes (issue 5).

On SIGTERM a service first reports not ready (gateway /readyz 503, identity
health NOT_SERVING) while still serving, then stops accepting and lets the
work in flight finish. Every write is one transaction, so whatever was
answered as done is wholly in the database, and nothing else is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import signal
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from devstack.processes import Services, StackEnv, free_port, identity_and_gateway, onboard

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
# Enough work that some of it is still running when the listener closes.
BULKS, OPERATIONS = 4, 400
_WAIT_S = 15.0

pytestmark = pytest.mark.timeout(60)


@dataclasses.dataclass(frozen=True)
class Stack:
    env: StackEnv
    services: Services
    org: str
    scim_url: str
    token: str


@pytest.fixture
def stack(database_url: str, tmp_path: Path) -> Iterator[Stack]:
    # A short grace delay, so the not-ready phase can be observed over the wire.
    delay = {"SHUTDOWN_DELAY_SECONDS": "0.5"}
    # Each Bulk operation costs a rate-limit token: room for all of them at once.
    burst = {"SCIM_RATE_LIMIT_BURST": str(BULKS * OPERATIONS)}
    env = StackEnv.on_loopback(
        database_url, free_port(), free_port(), gateway_settings={**delay, **burst}
    )
    env = dataclasses.replace(env, identity={**env.identity, **delay})
    with identity_and_gateway(env, tmp_path) as services:
        org = f"shut-{uuid.uuid4().hex[:10]}"
        scim_url, token = onboard(env.cli, org)
        yield Stack(env, services, org, scim_url, token)


def _bulk(prefix: str) -> dict[str, Any]:
    return {
        "schemas": [BULK_REQUEST],
        "Operations": [
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": f"{prefix}{n}",
                "data": {"schemas": [USER], "userName": f"{prefix}{n}@shutdown.test"},
            }
            for n in range(OPERATIONS)
        ],
    }


async def _post_bulk(stack: Stack, prefix: str) -> tuple[int, dict[str, Any]]:
    url = f"{stack.env.origin}/scim/v2/{stack.org}/Bulk"
    headers = {"Authorization": f"Bearer {stack.token}", "User-Agent": "Okta SCIM Client"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=_bulk(prefix), headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def _until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Wait (bounded) for `check` to hold: an event, not a duration, is asserted."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _WAIT_S
    while not await check():
        assert loop.time() < deadline, f"never saw: {what}"
        await asyncio.sleep(0.02)


async def _created(database_url: str, org: str) -> tuple[set[str], set[str]]:
    """Names of the org's bulk-created users, and the ids with a user.created event."""
    conn = await asyncpg.connect(database_url)
    try:
        users = await conn.fetch(
            "SELECT id::text, user_name FROM users"
            " WHERE org_id = $1 AND user_name LIKE '%shutdown.test'",
            org,
        )
        # Written in the user's own transaction: numbered already, or still
        # staged for the sequencer (a call cut short after its commit).
        events = await conn.fetch(
            "SELECT resource_id FROM events WHERE org_id = $1 AND type = 'user.created'"
            " UNION ALL"
            " SELECT resource_id FROM event_staging WHERE org_id = $1 AND type = 'user.created'",
            org,
        )
    finally:
        await conn.close()
    ids = {row["id"] for row in users}
    assert ids <= {row["resource_id"] for row in events}, "a user without its event"
    return {row["user_name"] for row in users}, ids


async def _http_status(url: str) -> int | None:
    """The status of GET `url` over a new connection; None if it is refused."""
    try:
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
            session.get(url) as response,
        ):
            return response.status
    except aiohttp.ClientConnectionError:
        return None


def _outcomes(answers: list[tuple[int, dict[str, Any]]]) -> dict[str, str]:
    """Each bulk-created userName, and the status of its operation."""
    outcomes = {}
    for status, body in answers:
        assert status == 200, body
        for operation in body["Operations"]:
            outcomes[operation["bulkId"]] = operation["status"]
    return {f"{bulk_id}@shutdown.test": status for bulk_id, status in outcomes.items()}


async def _writes_started(database_url: str, org: str) -> bool:
    return bool((await _created(database_url, org))[0])


async def test_gateway_finishes_in_flight_requests_and_refuses_new_ones(stack, database_url):
    bulks = [asyncio.create_task(_post_bulk(stack, f"g{k}-")) for k in range(BULKS)]
    await _until(lambda: _writes_started(database_url, stack.org), "bulk writes in flight")
    stack.services.gateway.process.send_signal(signal.SIGTERM)

    ready = f"{stack.env.origin}/readyz"
    await _until(lambda: _is(_http_status(ready), 503), "/readyz 503 while still serving")
    await _until(lambda: _is(_http_status(ready), None), "new connections refused")
    still_running = sum(not bulk.done() for bulk in bulks)
    answers = await asyncio.gather(*bulks)
    assert await asyncio.to_thread(stack.services.gateway.process.wait, 30) == 0

    assert still_running > 0, "every request ended before the listener closed; nothing drained"
    outcomes = _outcomes(answers)
    assert len(outcomes) == BULKS * OPERATIONS
    assert set(outcomes.values()) == {"201"}
    names, _ = await _created(database_url, stack.org)
    assert names == set(outcomes)
    assert "stopping: not ready" in stack.services.gateway.log_tail(200)


async def _is(answer: Awaitable[int | None], expected: int | None) -> bool:
    return await answer == expected


def _health_port(log: str) -> int:
    found = re.search(r"health on (\d+)", log)
    assert found, log
    return int(found.group(1))


async def _health(port: int) -> int | None:
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            answer = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=2
            )
            return int(answer.status)
    except grpc.aio.AioRpcError:
        return None


async def test_identity_service_turns_not_serving_then_drains(stack, database_url):
    health_port = _health_port(stack.services.identity.log_tail(200))
    assert await _health(health_port) == health_pb2.HealthCheckResponse.SERVING
    bulks = [asyncio.create_task(_post_bulk(stack, f"i{k}-")) for k in range(BULKS)]
    await _until(lambda: _writes_started(database_url, stack.org), "bulk writes in flight")
    stack.services.identity.process.send_signal(signal.SIGTERM)

    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    await _until(lambda: _is(_health(health_port), not_serving), "health NOT_SERVING")
    answers = await asyncio.gather(*bulks)
    assert await asyncio.to_thread(stack.services.identity.process.wait, 30) == 0

    # The gateway still answers; operations after the identity service stopped are 503.
    outcomes = _outcomes(answers)
    assert set(outcomes.values()) <= {"201", "503"}
    assert "201" in outcomes.values()
    # Exactly the operations answered 201 are in the database, each with its event.
    names, _ = await _created(database_url, stack.org)
    assert names == {name for name, status in outcomes.items() if status == "201"}
