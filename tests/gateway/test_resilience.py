"""The identity service or Postgres down or slow: 503 + Retry-After (SPEC §7).

Nothing is half-written, and the service recovers by itself when they return.

Real servers throughout: a held call is a real identity server that never
answers it (`Faults`).
"""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from devstack.processes import free_port
from gateway.app import create_app
from gateway.settings import Settings
from tests.gateway.conftest import ServeWithFaults, Tenant, replace
from tests.gateway.faults import Faults

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
