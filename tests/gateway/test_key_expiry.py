"""An expired key gets 401 through the gateway, and its cache entry ends with it (issue 12).

An expiry sends no event, unlike a revocation: the cache must stop trusting
the key by itself. The cache's clock is driven by hand; the key is expired
in its row, so nothing sleeps or asserts wall time.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.revocations import REVOCATIONS
from gateway.settings import Settings
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.gateway.conftest import ADMIN, Tenant

WAIT_SECONDS = 15.0
AS_ADMIN = pb.RequestContext(actor=pb.Actor(admin_email=ADMIN), request_id="expiring-key")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def expire(db_pool: asyncpg.Pool, org: str, key_id: str) -> None:
    await db_pool.execute(
        "UPDATE scim_keys SET expires = clock_timestamp() - interval '1 second'"
        " WHERE org_id = $1 AND id = $2",
        org,
        key_id,
    )


async def test_an_expired_key_gets_401(http, tenant: Tenant, db_pool):
    await expire(db_pool, tenant.org, tenant.key_id)
    response = await http.get(f"{tenant.base}/Users", headers=tenant.headers())
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = await response.json(content_type="application/scim+json")
    assert body["status"] == "401"


async def test_the_cache_trusts_a_key_no_longer_than_until_its_expiry(
    gateway_settings: Settings, tenant: Tenant, operator_channel, db_pool
):
    created = await pb_grpc.OrgAdminStub(operator_channel).CreateScimKey(
        pb.CreateScimKeyRequest(
            context=AS_ADMIN, org_id=tenant.org, name="90 seconds", expires_in_seconds=90
        )
    )
    expiring = replace(tenant, token=created.token, key_id=created.key.id)
    clock = Clock()
    app = create_app(replace(gateway_settings, key_cache_seconds=300.0), clock=clock)
    async with TestClient(TestServer(app)) as client:
        # Until revocations are followed, no key is trusted beyond 2 s anyway.
        async with asyncio.timeout(WAIT_SECONDS):
            await app[REVOCATIONS].connected.wait()

        async def status() -> int:
            response = await client.get(f"{expiring.base}/Users", headers=expiring.headers())
            return response.status

        assert await status() == 200
        await expire(db_pool, tenant.org, created.key.id)
        clock.now += 80.0
        assert await status() == 200  # still trusted from the cache, as any key is
        clock.now += 15.0  # past its expiry, well within the cache's 300 s
        assert await status() == 401
