"""Failed authentication is limited per client address and key id, from memory.

A real gateway in front of a real identity service whose calls a real
server interceptor (`Faults`) counts, reached from several loopback
addresses (127.0.0.0/8 is all local on Linux) so that each request's
transport peer is the address the test chose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp.test_utils import BaseTestServer, TestServer
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.client_address import parse_networks
from gateway.settings import Settings
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.gateway.conftest import ADMIN, ServeWithFaults, Tenant, replace
from tests.gateway.faults import Faults

HERE, THERE = "127.0.0.1", "127.0.0.2"
BUDGET = 3
VERIFY = "VerifyScimKey"


@dataclass
class Gateway:
    server: BaseTestServer
    faults: Faults
    identity: grpc.aio.Server

    async def get(
        self, tenant: Tenant, token: str, source: str = HERE, **headers: str
    ) -> aiohttp.ClientResponse:
        """GET the org's Users with `token`, from the loopback address `source`."""
        connector = aiohttp.TCPConnector(local_addr=(source, 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            response = await session.get(
                self.server.make_url(f"{tenant.base}/Users"),
                headers={**tenant.headers(**headers), "Authorization": f"Bearer {token}"},
            )
            await response.read()
            return response

    async def statuses(
        self, tenant: Tenant, token: str, times: int, source: str = HERE
    ) -> list[int]:
        return [(await self.get(tenant, token, source)).status for _ in range(times)]

    async def limited_count(self) -> float:
        async with aiohttp.ClientSession() as session:
            text = await (await session.get(self.server.make_url("/metrics"))).text()
        return sum(
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "scim_auth_limited_total"
        )


@pytest.fixture
def start(serve_with_faults: ServeWithFaults, gateway_settings: Settings) -> Any:
    @asynccontextmanager
    async def start(**settings: Any) -> AsyncIterator[Gateway]:
        faults = Faults()
        identity, port = await serve_with_faults(faults)
        tuned = replace(
            gateway_settings,
            **{"identity_addr": f"127.0.0.1:{port}", "auth_failure_budget": BUDGET, **settings},
        )
        async with TestServer(create_app(tuned)) as server:
            yield Gateway(server, faults, identity)

    return start


def _wrong_secret(token: str) -> str:
    """The token's own prefix and key id with a secret that is not its own."""
    prefix, key_id, _ = token.split("_", 2)
    return f"{prefix}_{key_id}_not-the-secret"


async def _another_key(operator_channel: Any, tenant: Tenant) -> str:
    created = await pb_grpc.OrgAdminStub(operator_channel).CreateScimKey(
        pb.CreateScimKeyRequest(
            context=pb.RequestContext(actor=pb.Actor(admin_email=ADMIN)),
            org_id=tenant.org,
            name="Entra",
        )
    )
    return str(created.token)


async def test_past_the_budget_failures_get_429_without_a_key_lookup(start, tenant):
    async with start() as gateway:
        bad = _wrong_secret(tenant.token)
        assert await gateway.statuses(tenant, bad, BUDGET) == [401] * BUDGET
        assert gateway.faults.calls[VERIFY] == BUDGET
        limited = await gateway.get(tenant, bad)
        body = await limited.json(content_type=None)
        assert await gateway.statuses(tenant, bad, 2) == [429, 429]
        assert gateway.faults.calls[VERIFY] == BUDGET  # answered from memory
        assert await gateway.limited_count() == 3
    assert limited.status == 429
    assert limited.content_type == "application/scim+json"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "429"
    assert "too many failed authentication attempts" in body["detail"]


async def test_a_limited_client_is_answered_with_the_identity_service_down(start, tenant):
    async with start() as gateway:
        bad = "gscim_0000000000000000_guess"
        assert await gateway.statuses(tenant, bad, BUDGET) == [401] * BUDGET
        await gateway.identity.stop(grace=None)
        assert (await gateway.get(tenant, bad)).status == 429
        # Any request the limit does not refuse needs the service, and finds it gone.
        assert (await gateway.get(tenant, "gscim_1111111111111111_guess")).status == 503


async def test_a_valid_key_from_another_address_is_not_slowed(start, tenant):
    async with start() as gateway:
        bad = _wrong_secret(tenant.token)
        assert await gateway.statuses(tenant, bad, BUDGET) == [401] * BUDGET
        # From the failing address, this key id is refused unverified, even with its secret...
        assert (await gateway.get(tenant, tenant.token, HERE)).status == 429
        # ...but the same key from any other address works.
        assert (await gateway.get(tenant, tenant.token, THERE)).status == 200
        assert (await gateway.get(tenant, bad, THERE)).status == 401


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(start, tenant):
    async with start(trusted_proxies=parse_networks(f"{HERE}/32")) as gateway:
        bad = _wrong_secret(tenant.token)
        attacker = {"X-Forwarded-For": "203.0.113.9"}
        okta = {"X-Forwarded-For": "198.51.100.7"}
        assert await _statuses(gateway, tenant, bad, BUDGET, attacker) == [401] * BUDGET
        assert (await gateway.get(tenant, tenant.token, HERE, **attacker)).status == 429
        # Through the same proxy, the real client of the key is not slowed.
        assert (await gateway.get(tenant, tenant.token, HERE, **okta)).status == 200
    # A peer that is no trusted proxy cannot pick its bucket with the header.
    async with start(trusted_proxies=parse_networks(f"{THERE}/32")) as gateway:
        assert await _statuses(gateway, tenant, bad, BUDGET, attacker) == [401] * BUDGET
        assert (await gateway.get(tenant, bad, HERE, **okta)).status == 429


async def _statuses(
    gateway: Gateway, tenant: Tenant, token: str, times: int, headers: dict[str, str]
) -> list[int]:
    return [(await gateway.get(tenant, token, HERE, **headers)).status for _ in range(times)]


async def test_failures_for_one_key_id_do_not_limit_another(start, tenant, operator_channel):
    other = await _another_key(operator_channel, tenant)
    async with start() as gateway:
        bad = _wrong_secret(tenant.token)
        assert await gateway.statuses(tenant, bad, BUDGET) == [401] * BUDGET
        assert (await gateway.get(tenant, bad)).status == 429
        assert (await gateway.get(tenant, other)).status == 200
        assert (await gateway.get(tenant, _wrong_secret(other))).status == 401
        assert (await gateway.get(tenant, "no-key-id")).status == 401


async def test_tokens_naming_no_key_id_count_for_their_address_alone(start, tenant):
    async with start() as gateway:
        assert await gateway.statuses(tenant, "garbage", BUDGET) == [401] * BUDGET
        assert (await gateway.get(tenant, "other-garbage")).status == 429
        assert (await gateway.get(tenant, "garbage", THERE)).status == 401
        assert (await gateway.get(tenant, tenant.token, HERE)).status == 200


async def test_successes_spend_no_failure_budget(start, tenant):
    # Nothing cached: every success is verified by the identity service.
    async with start(key_cache_seconds=0.0) as gateway:
        assert await gateway.statuses(tenant, tenant.token, 5) == [200] * 5
        assert gateway.faults.calls[VERIFY] == 5
        bad = _wrong_secret(tenant.token)
        assert await gateway.statuses(tenant, bad, BUDGET + 1) == [401] * BUDGET + [429]


async def test_the_limit_ends_with_its_window(start, tenant):
    async with start(auth_failure_budget=1, auth_failure_window_seconds=1.0) as gateway:
        bad = _wrong_secret(tenant.token)
        assert await gateway.statuses(tenant, bad, 2) == [401, 429]
        await asyncio.sleep(1.1)
        assert await gateway.statuses(tenant, bad, 2) == [401, 429]
        assert gateway.faults.calls[VERIFY] == 2
