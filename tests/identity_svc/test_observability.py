"""The identity service's metrics endpoint and health-only port, on real servers."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import aiohttp
import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.db.pool import create_pool
from identity_svc.metrics import PoolCollector, start_metrics_server
from identity_svc.server import SERVICE_NAMES, create_health_server, create_server
from identity_svc.settings import Settings
from json_logs import JsonFormatter
from tests.conftest import _bearer_channel
from tests.identity_svc.support import GATEWAY, OPERATOR, new_org_id, struct, user_doc


@dataclass(frozen=True)
class Observed:
    api: grpc.aio.Channel
    health_port: int
    metrics_url: str
    health: health.aio.HealthServicer


@pytest.fixture
async def observed(database_url, db_pool) -> AsyncIterator[Observed]:
    """A server wired like `python -m identity_svc`: shared health, metrics on port 0."""
    settings = Settings(database_url=database_url, operator_token=secrets.token_urlsafe(24))
    servicer = health.aio.HealthServicer()
    server, port = await create_server(settings, db_pool, "127.0.0.1:0", None, servicer)
    health_server, health_port = create_health_server(servicer, "127.0.0.1:0")
    metrics_runner, metrics_port = await start_metrics_server("127.0.0.1", 0)
    collector = PoolCollector(db_pool)
    REGISTRY.register(collector)
    await server.start()
    await health_server.start()
    channel = _bearer_channel(f"127.0.0.1:{port}", settings.operator_token)
    try:
        yield Observed(channel, health_port, f"http://127.0.0.1:{metrics_port}/metrics", servicer)
    finally:
        await channel.close()
        REGISTRY.unregister(collector)
        await metrics_runner.cleanup()
        await health_server.stop(None)
        await server.stop(None)


async def _scrape(url: str) -> list[Sample]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        text = await response.text()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def _delta(before: list[Sample], after: list[Sample], name: str, **labels: str) -> float:
    """How much a cumulative metric grew between two scrapes."""
    return _value(after, name, **labels) - _value(before, name, **labels)


async def test_metrics_count_calls_pool_and_events(observed, db_pool):
    before = await _scrape(observed.metrics_url)
    admin = pb_grpc.OrgAdminStub(observed.api)
    prov = pb_grpc.ProvisioningStub(observed.api)
    org = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=org, name="O", admin_email="a@x.test")
    )
    for n in range(3):
        await prov.CreateUser(
            pb.CreateUserRequest(
                context=GATEWAY, org_id=org, attributes=struct(user_doc(f"u{n}@x.test"))
            )
        )
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await prov.GetUser(pb.GetUserRequest(org_id=org, user_id="no-such-user"))

    after = await _scrape(observed.metrics_url)
    provisioning = {"grpc_service": "identity_api.v1.Provisioning"}
    handled = "grpc_server_handled_total"
    created = {**provisioning, "grpc_method": "CreateUser"}
    assert _delta(before, after, handled, **created, grpc_code="OK") == 3
    assert _delta(before, after, handled, **created) == 3  # and nothing else
    get_user = {**provisioning, "grpc_method": "GetUser"}
    assert _delta(before, after, handled, **get_user, grpc_code=missing.value.code().name) == 1
    assert _delta(before, after, handled, **get_user) == 1
    assert _delta(before, after, "grpc_server_handling_seconds_count", **created) == 3
    # Every event this test wrote (the org's, then its users'), each counted once.
    written = await db_pool.fetchval("SELECT count(*) FROM events WHERE org_id = $1", org)
    assert _delta(before, after, "identity_events_written_total") == written
    users_created = _delta(before, after, "identity_events_written_total", type="user.created")
    assert users_created == 1 + 3  # the org's admin, then the three
    assert _value(after, "identity_db_pool_size") >= 1
    assert _value(after, "identity_db_pool_max_size") == 40
    states = {s.labels["state"] for s in after if s.name == "identity_db_pool_connections"}
    assert states == {"idle", "in_use"}


async def _status(port: int, service: str = "") -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=5
        )
    return int(answer.status)


async def test_health_port_serves_then_not_serving_once_shutdown_begins(observed):
    serving, not_serving = (
        health_pb2.HealthCheckResponse.SERVING,
        health_pb2.HealthCheckResponse.NOT_SERVING,
    )
    assert await _status(observed.health_port) == serving
    assert await _status(observed.health_port, SERVICE_NAMES[0]) == serving
    await observed.health.enter_graceful_shutdown()
    for name in ("", *SERVICE_NAMES):
        assert await _status(observed.health_port, name) == not_serving


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


async def test_log_lines_of_a_call_carry_its_request_id(database_url, json_log):
    settings = Settings(database_url=database_url, operator_token=secrets.token_hex(16))
    pool = await create_pool(database_url, min_size=1, max_size=1)
    server, port = await create_server(settings, pool, "127.0.0.1:0")
    await server.start()
    try:
        await pool.close()  # every call now logs "database unavailable"
        bearer = ("authorization", f"Bearer {settings.operator_token}")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            prov = pb_grpc.ProvisioningStub(channel)
            with pytest.raises(grpc.aio.AioRpcError):
                await prov.ListUsers(
                    pb.ListUsersRequest(org_id="x"), metadata=(bearer, ("x-request-id", "rid-7"))
                )
            # No x-request-id metadata: the RequestContext's id is used.
            with pytest.raises(grpc.aio.AioRpcError):
                await prov.CreateUser(
                    pb.CreateUserRequest(
                        context=GATEWAY, org_id="x", attributes=struct(user_doc("l@x.test"))
                    ),
                    metadata=(bearer,),
                )
    finally:
        await server.stop(grace=None)
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    warned = {line.get("request_id") for line in lines if line["level"] == "WARNING"}
    assert {"rid-7", GATEWAY.request_id} <= warned
