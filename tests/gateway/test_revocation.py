"""Push-based key revocation: the gateway follows the change log (SPEC §6).

The apps here trust a verified key for 60 s, so a revoked key refused while the
cache would still trust it proves the push, not the cache TTL. While the
stream is down a key is trusted for at most 2 s: those tests drive the cache's
clock by hand, so no test sleeps on or asserts wall time. Waits are bounded
polls for a condition, the bound only a guard against a hang.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from devstack.processes import free_port
from gateway.app import create_app
from gateway.keys import IDENTITY, KEY_CACHE
from gateway.revocations import DISCONNECTED_TRUST_SECONDS, REVOCATIONS
from gateway.settings import Settings
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.events_hub import EventHub
from identity_svc.server import create_server
from identity_svc.settings import Settings as IdentitySettings
from tests.gateway.conftest import ADMIN, Tenant
from tests.gateway.faults import Faults

WAIT_SECONDS = 15.0
LONG_CACHE_SECONDS = 60.0


@pytest.fixture
async def long_cache(gateway_settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    app = create_app(replace(gateway_settings, key_cache_seconds=LONG_CACHE_SECONDS))
    async with TestClient(TestServer(app)) as client:
        yield client


async def revoke(operator_channel: grpc.aio.Channel, tenant: Tenant) -> None:
    context = pb.RequestContext(actor=pb.Actor(admin_email=ADMIN), request_id="revoke")
    await pb_grpc.OrgAdminStub(operator_channel).RevokeScimKey(
        pb.RevokeScimKeyRequest(context=context, org_id=tenant.org, key_id=tenant.key_id)
    )


async def list_users(client: TestClient[Any, Any], tenant: Tenant) -> int:
    response = await client.get(f"{tenant.base}/Users?count=1", headers=tenant.headers())
    return response.status


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait (bounded) until `condition` holds."""
    async with asyncio.timeout(WAIT_SECONDS):
        while True:
            if condition():
                return
            await asyncio.sleep(0.02)


def app_of(client: TestClient[Any, Any]) -> web.Application:
    app = client.app
    assert app is not None
    return app


def cached_key(client: TestClient[Any, Any], tenant: Tenant) -> str | None:
    digest = hashlib.sha256(tenant.token.encode()).digest()
    return app_of(client)[KEY_CACHE].get(tenant.org, digest)


async def test_a_revoked_key_is_refused_at_once_despite_a_long_cache(
    long_cache, tenant, operator_channel
):
    watcher = app_of(long_cache)[REVOCATIONS]
    await asyncio.wait_for(watcher.connected.wait(), WAIT_SECONDS)
    assert await list_users(long_cache, tenant) == 200
    assert cached_key(long_cache, tenant) == tenant.key_id  # trusted for 60 s from now
    await revoke(operator_channel, tenant)
    await eventually(lambda: tenant.key_id in watcher.dropped)  # the push arrived
    assert watcher.connected.is_set()  # the push did it, not the disconnected 2 s cap
    assert cached_key(long_cache, tenant) is None
    assert await list_users(long_cache, tenant) == 401


async def test_the_watcher_resumes_after_an_identity_restart_and_replays_revocations(
    identity_server, database_url, db_pool, operator_channel, tenant, gateway_settings
):
    """Revoked while the gateway was disconnected: dropped from the replay on reconnect."""
    settings = IdentitySettings(
        database_url=database_url,
        operator_token=identity_server.operator_token,
        service_token=identity_server.service_token,
    )
    hub = EventHub(database_url)
    server, port = await create_server(settings, db_pool, "127.0.0.1:0", hub)
    await server.start()
    app = create_app(
        replace(gateway_settings, identity_addr=f"127.0.0.1:{port}", key_cache_seconds=60)
    )
    try:
        async with TestClient(TestServer(app)) as client:
            watcher = app[REVOCATIONS]
            await asyncio.wait_for(watcher.connected.wait(), WAIT_SECONDS)
            # An event of the org the watcher sees, so it resumes the org from there.
            assert await list_users(client, tenant) == 200
            response = await client.post(
                f"{tenant.base}/Groups", json={"displayName": "G"}, headers=tenant.headers()
            )
            assert response.status == 201
            await eventually(lambda: tenant.org in watcher.positions)
            await server.stop(grace=None)
            await eventually(lambda: not watcher.connected.is_set())
            await revoke(operator_channel, tenant)  # through the other identity server
            server, _ = await create_server(settings, db_pool, f"127.0.0.1:{port}", hub)
            await server.start()
            await eventually(lambda: tenant.key_id in watcher.dropped)
            assert watcher.connected.is_set()
            assert await list_users(client, tenant) == 401
    finally:
        await server.stop(grace=None)
        await hub.close()


async def test_the_gateway_serves_while_the_identity_service_is_down(gateway_settings):
    """Start-up is not blocked and public endpoints answer; the watcher only retries."""
    unreachable = replace(gateway_settings, identity_addr=f"127.0.0.1:{free_port()}")
    app = create_app(unreachable)
    async with TestClient(TestServer(app)) as client:
        response = await client.get(f"/scim/v2/org-{secrets.token_hex(4)}/ServiceProviderConfig")
        assert response.status == 200
        assert not app[REVOCATIONS].connected.is_set()
        response = await client.get(
            "/scim/v2/acme/Users", headers={"Authorization": "Bearer x_y_z"}
        )
        assert response.status == 503


class FakeClock:
    """The gateway's monotonic clock, moved only by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def past_the_trust_limit(clock: FakeClock) -> None:
    clock.now += DISCONNECTED_TRUST_SECONDS + 0.01


async def test_before_the_stream_first_connects_a_key_is_trusted_at_most_2s(
    serve_with_faults, tenant, gateway_settings
):
    faults = Faults(hold={"WatchAllEvents"})  # the stream never comes up
    _, port = await serve_with_faults(faults)
    clock = FakeClock()
    settings = replace(
        gateway_settings, identity_addr=f"127.0.0.1:{port}", key_cache_seconds=LONG_CACHE_SECONDS
    )
    app = create_app(settings, clock)
    async with TestClient(TestServer(app)) as client:
        await asyncio.wait_for(faults.seen("WatchAllEvents"), WAIT_SECONDS)  # watcher running
        assert await list_users(client, tenant) == 200
        assert faults.calls["VerifyScimKey"] == 1
        past_the_trust_limit(clock)
        assert await list_users(client, tenant) == 200
        assert faults.calls["VerifyScimKey"] == 2  # no longer trusted: verified again
        assert not app[REVOCATIONS].connected.is_set()


async def test_once_the_stream_breaks_a_cached_key_is_trusted_at_most_2s_more(
    serve_with_faults, tenant, gateway_settings
):
    first = Faults()
    server, port = await serve_with_faults(first)
    clock = FakeClock()
    settings = replace(
        gateway_settings, identity_addr=f"127.0.0.1:{port}", key_cache_seconds=LONG_CACHE_SECONDS
    )
    app = create_app(settings, clock)
    async with TestClient(TestServer(app)) as client:
        watcher = app[REVOCATIONS]
        await asyncio.wait_for(watcher.connected.wait(), WAIT_SECONDS)
        assert await list_users(client, tenant) == 200
        clock.now += 10 * DISCONNECTED_TRUST_SECONDS  # connected: the configured TTL holds
        assert await list_users(client, tenant) == 200
        assert first.calls["VerifyScimKey"] == 1

        await server.stop(grace=None)  # the stream breaks
        await eventually(lambda: not watcher.connected.is_set())
        # The service is back, but its event stream is not.
        second = Faults(hold={"WatchAllEvents"})
        await serve_with_faults(second, port)
        await asyncio.wait_for(app[IDENTITY].channel.channel_ready(), WAIT_SECONDS)
        past_the_trust_limit(clock)
        assert await list_users(client, tenant) == 200
        assert second.calls["VerifyScimKey"] == 1  # no longer trusted: verified again
        assert not watcher.connected.is_set()
