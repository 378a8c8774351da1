"""The identity service or Postgres down or slow: 503 + Retry-After (SPEC §7).

Nothing is half-written, and the service recovers by itself when they return.

Real servers throughout: a held call is a real identity server that never
answers it (`Faults`), a database gone is a real TCP hop to the real Postgres
that the test cuts (`PgProxy`). Waits are on events, bounded only as a guard.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from devstack.processes import free_port
from gateway.app import create_app
from gateway.settings import Settings
from identity_svc.db.pool import create_pool
from identity_svc.events_hub import EventHub
from identity_svc.sequencer import Sequencer
from identity_svc.server import create_server
from identity_svc.settings import Settings as IdentitySettings
from tests.conftest import IdentityServer
from tests.faults import pausing_rows
from tests.gateway.conftest import ServeWithFaults, Tenant, onboard, replace
from tests.gateway.faults import Faults, PgProxy

WAIT_SECONDS = 15.0
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


async def assert_unavailable(response: aiohttp.ClientResponse) -> None:
    """503, when to retry, and a SCIM error body in the SCIM media type."""
    assert response.status == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.content_type == "application/scim+json"
    body = await response.json(content_type="application/scim+json")
    assert body["schemas"] == [ERROR]
    assert body["status"] == "503"
    assert "Traceback" not in body["detail"]


async def test_no_identity_service_listening_is_503(tenant: Tenant, gateway_settings: Settings):
    nowhere = replace(gateway_settings, identity_addr=f"127.0.0.1:{free_port()}")
    async with TestClient(TestServer(create_app(nowhere))) as client:
        response = await client.get(f"{tenant.base}/Users", headers=tenant.headers())
        await assert_unavailable(response)


async def test_an_identity_service_slower_than_the_deadline_is_503(
    serve_with_faults: ServeWithFaults, tenant: Tenant, gateway_settings: Settings
):
    faults = Faults(hold={"VerifyScimKey"})  # every request's first call: never answered
    _, port = await serve_with_faults(faults)
    slow = replace(
        gateway_settings, identity_addr=f"127.0.0.1:{port}", identity_timeout_seconds=0.2
    )
    async with TestClient(TestServer(create_app(slow))) as client:
        response = await client.get(f"{tenant.base}/Users", headers=tenant.headers())
        await assert_unavailable(response)
    assert faults.calls["VerifyScimKey"] == 1  # the service was reached: slow, not down


@pytest.fixture
async def proxied(
    identity_server: IdentityServer, database_url: str, gateway_settings: Settings
) -> AsyncIterator[tuple[PgProxy, Settings]]:
    """An identity server whose pool and LISTEN reach Postgres only through a proxy."""
    proxy = PgProxy(database_url)
    await proxy.start()
    pool = await create_pool(proxy.dsn, min_size=1, max_size=4)
    settings = IdentitySettings(
        database_url=proxy.dsn,
        operator_token=identity_server.operator_token,
        service_token=identity_server.service_token,
    )
    hub = EventHub(proxy.dsn)
    sequencer = Sequencer(pool)  # numbers its writes' events, as in the service
    sequencer.start()
    server, port = await create_server(settings, pool, "127.0.0.1:0", hub)
    await server.start()
    try:
        yield proxy, replace(gateway_settings, identity_addr=f"127.0.0.1:{port}")
    finally:
        await server.stop(grace=None)
        await sequencer.close()
        await hub.close()
        await proxy.cut()
        pool.terminate()


async def _polled(db_pool: asyncpg.Pool, query: str, *args: object) -> Any:
    """The first value of `query` that is not NULL, polled (bounded only as a guard)."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            value = await db_pool.fetchval(query, *args)
            if value is not None:
                return value
            await asyncio.sleep(0.02)


# The advisory lock a paused write waits for, and how to find that write.
_PAUSE_KEY = 7_302_001
_LOCK_WAITER = """
SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1
"""
_GONE = """
SELECT true WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)
"""


_ROWS = """
SELECT (SELECT count(*) FROM users WHERE org_id = $1),
       (SELECT count(*) FROM events WHERE org_id = $1)
"""
_CREATED = """
SELECT count(*)
FROM events e
JOIN users u ON u.org_id = e.org_id AND u.id::text = e.resource_id
WHERE e.org_id = $1 AND e.type = 'user.created' AND u.user_name = $2
"""


async def _rows(db_pool: asyncpg.Pool, org: str) -> tuple[int, int]:
    """How many users and events the org has."""
    row = await db_pool.fetchrow(_ROWS, org)
    assert row is not None
    return int(row[0]), int(row[1])


async def test_postgres_gone_mid_write_is_503_with_nothing_written_then_it_recovers(
    proxied: tuple[PgProxy, Settings], operator_channel: Any, db_pool: asyncpg.Pool
):
    proxy, settings = proxied
    tenant = await onboard(operator_channel)
    user = {"schemas": [USER], "userName": "cut@acme.test"}
    async with TestClient(TestServer(create_app(settings))) as client:
        assert (await client.get(f"{tenant.base}/Users", headers=tenant.headers())).status == 200
        users, events = await _rows(db_pool, tenant.org)
        # Stop the write at its last statement (staging its events), after it
        # has written the user: then Postgres goes away.
        blocker = await db_pool.acquire()
        held = blocker.transaction()
        await held.start()
        try:
            await blocker.execute("SELECT pg_advisory_xact_lock($1)", _PAUSE_KEY)
            async with pausing_rows(db_pool, "event_staging", tenant.org, _PAUSE_KEY):
                try:
                    post = asyncio.create_task(
                        client.post(f"{tenant.base}/Users", json=user, headers=tenant.headers())
                    )
                    writer = await _polled(db_pool, _LOCK_WAITER, _PAUSE_KEY)
                    assert await db_pool.fetchval(  # half-way: it has inserted into users
                        "SELECT count(*) FROM pg_locks WHERE pid = $1"
                        " AND relation = 'users'::regclass AND mode = 'RowExclusiveLock'",
                        writer,
                    )
                    await proxy.cut()
                    await assert_unavailable(await post)
                finally:
                    # Before the trigger is dropped (which waits for the write):
                    # the write goes on, finds its client gone, and aborts.
                    await held.rollback()
                await _polled(db_pool, _GONE, writer)
        finally:
            await db_pool.release(blocker)
        assert await _rows(db_pool, tenant.org) == (users, events)
        # Down is down for every request, reads too.
        await assert_unavailable(await client.get(f"{tenant.base}/Users", headers=tenant.headers()))

        await proxy.start()  # Postgres is back; nothing is restarted
        retried = await client.post(f"{tenant.base}/Users", json=user, headers=tenant.headers())
        assert retried.status == 201  # not 409: the lost write left nothing behind
        assert (await client.get(f"{tenant.base}/Users", headers=tenant.headers())).status == 200
    assert (await _rows(db_pool, tenant.org))[0] == users + 1
    assert await db_pool.fetchval(_CREATED, tenant.org, user["userName"]) == 1
