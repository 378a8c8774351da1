"""The whole HTTP → gRPC → SQL path in one process.

A real aiohttp server (test client) in front of the real identity service on
a real Postgres.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import grpc
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.settings import Settings
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.events_hub import EventHub
from identity_svc.server import create_server
from identity_svc.settings import Settings as IdentitySettings
from tests.conftest import IdentityServer
from tests.gateway.faults import Faults

PUBLIC_URL = "https://scim.example.test"
ADMIN = "admin@acme.test"


@pytest.fixture
def gateway_settings(identity_server: IdentityServer) -> Settings:
    return Settings(
        identity_addr=identity_server.address,
        service_token=identity_server.service_token,
        public_url=PUBLIC_URL,
        max_page_size=100,
    )


@pytest.fixture
async def http(gateway_settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(gateway_settings))) as client:
        yield client


# Starts a real identity server with `Faults` outermost on 127.0.0.1:port (0: any).
ServeWithFaults = Callable[..., Awaitable[tuple[grpc.aio.Server, int]]]


@pytest.fixture
async def serve_with_faults(
    identity_server: IdentityServer, database_url: str, db_pool: asyncpg.Pool
) -> AsyncIterator[ServeWithFaults]:
    """Identity servers like the session's (same database and tokens), stopped at teardown."""
    settings = IdentitySettings(
        database_url=database_url,
        operator_token=identity_server.operator_token,
        service_token=identity_server.service_token,
    )
    hub = EventHub(database_url)
    servers: list[grpc.aio.Server] = []

    async def serve(faults: Faults, port: int = 0) -> tuple[grpc.aio.Server, int]:
        server, bound = await create_server(
            settings, db_pool, f"127.0.0.1:{port}", hub, interceptors=[faults]
        )
        await server.start()
        servers.append(server)
        return server, bound

    yield serve
    for server in servers:
        await server.stop(grace=None)
    await hub.close()


@dataclass(frozen=True)
class Tenant:
    """An org with a live SCIM key, as Okta would be configured with it."""

    org: str
    token: str
    key_id: str

    @property
    def base(self) -> str:
        return f"/scim/v2/{self.org}"

    @property
    def public_base(self) -> str:
        return f"{PUBLIC_URL}/scim/v2/{self.org}"

    def headers(self, **extra: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/scim+json",
            "Content-Type": "application/scim+json; charset=utf-8",
            **extra,
        }


async def onboard(operator_channel: Any, org: str | None = None) -> Tenant:
    admin = pb_grpc.OrgAdminStub(operator_channel)
    org = org or f"org-{uuid.uuid4().hex[:10]}"
    operator = pb.RequestContext(actor=pb.Actor(operator=True), request_id="setup")
    await admin.CreateOrg(
        pb.CreateOrgRequest(
            context=operator, org_id=org, name="Acme", admin_email=ADMIN, sso_configured=True
        )
    )
    created = await admin.CreateScimKey(
        pb.CreateScimKeyRequest(
            context=pb.RequestContext(actor=pb.Actor(admin_email=ADMIN)), org_id=org, name="Okta"
        )
    )
    return Tenant(org, created.token, created.key.id)


@pytest.fixture
async def tenant(operator_channel: Any) -> Tenant:
    return await onboard(operator_channel)


__all__ = ["PUBLIC_URL", "Tenant", "onboard", "replace"]
