"""The request log end to end: SCIM requests through the gateway, read back by ListRequests.

The apps here flush only when a test says so (`flush`), so no test waits on a
timer; the one that holds RecordRequests waits on the call being seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import grpc
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.metrics import METRICS
from gateway.request_log import REQUEST_LOG
from gateway.settings import Settings
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.gateway.conftest import ServeWithFaults, Tenant
from tests.gateway.faults import Faults

OKTA = "Okta SCIM Client 1.0.0"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
OPERATOR = pb.RequestContext(actor=pb.Actor(operator=True), request_id="read-log")


@pytest.fixture
def manual(gateway_settings: Settings) -> Settings:
    """Settings whose recorder never flushes by itself within a test."""
    return replace(gateway_settings, request_log_flush_seconds=3600.0)


@pytest.fixture
async def http(manual: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(create_app(manual))) as client:
        yield client


def app_of(client: TestClient[Any, Any]) -> web.Application:
    app = client.app
    assert app is not None
    return app


async def flush(client: TestClient[Any, Any]) -> None:
    await app_of(client)[REQUEST_LOG].flush()


def dropped(client: TestClient[Any, Any], reason: str) -> float:
    registry = app_of(client)[METRICS].registry
    return registry.get_sample_value("scim_request_log_dropped_total", {"reason": reason}) or 0.0


async def logged(operator_channel: grpc.aio.Channel, org: str) -> list[pb.RequestLogEntry]:
    answer = await pb_grpc.OrgAdminStub(operator_channel).ListRequests(
        pb.ListRequestsRequest(context=OPERATOR, org_id=org)
    )
    return list(answer.entries)


async def create_user(http, tenant: Tenant, user_name: str, **extra: Any) -> Any:
    body = {"schemas": [USER], "userName": user_name, **extra}
    return await http.post(
        f"{tenant.base}/Users", json=body, headers=tenant.headers(**{"User-Agent": OKTA})
    )


async def test_a_request_is_logged_with_its_route_template_status_idp_and_latency(
    http, tenant, operator_channel
):
    created = await create_user(http, tenant, "ada@acme.test")
    assert created.status == 201
    user_id = (await created.json())["id"]
    fetched = await http.get(
        f"{tenant.base}/Users/{user_id}", headers=tenant.headers(**{"User-Agent": OKTA})
    )
    assert fetched.status == 200
    await flush(http)

    get, post = await logged(operator_channel, tenant.org)
    assert (get.method, get.route, get.resource_id, get.status) == (
        "GET",
        "/Users/{id}",
        user_id,
        200,
    )
    assert (post.method, post.route, post.status) == ("POST", "/Users", 201)
    for entry, response in ((get, fetched), (post, created)):
        assert (entry.idp, entry.key_id) == ("okta", tenant.key_id)
        assert entry.request_id == response.headers["X-Request-Id"]
        assert entry.latency_ms > 0
        # Successes keep no body and no error.
        assert (entry.masked_body, entry.error_detail, entry.scim_type) == ("", "", "")


async def test_a_failure_keeps_the_scim_error_and_the_body_without_the_password(
    http, tenant, operator_channel
):
    assert (await create_user(http, tenant, "bob@acme.test")).status == 201
    long_name = "B" * 3000  # well within the 4 KiB a body keeps
    again = await create_user(
        http,
        tenant,
        "bob@acme.test",
        password="hunter2-secret",
        name={"givenName": "Bob"},
        nickName=long_name,
    )
    assert again.status == 409
    error = await again.json(content_type="application/scim+json")
    await flush(http)

    failed = (await logged(operator_channel, tenant.org))[0]
    assert (failed.status, failed.scim_type) == (409, "uniqueness")
    assert failed.error_detail == error["detail"]
    assert '"password":"****"' in failed.masked_body
    assert '"givenName":"Bob"' in failed.masked_body
    assert f'"nickName":"{long_name}"' in failed.masked_body
    assert "hunter2" not in failed.masked_body


async def test_a_refused_key_is_logged_without_the_token(http, tenant, operator_channel):
    wrong = f"{tenant.token}x"
    refused = await http.get(
        f"{tenant.base}/Users", headers={**tenant.headers(), "Authorization": f"Bearer {wrong}"}
    )
    assert refused.status == 401
    await flush(http)

    (entry,) = await logged(operator_channel, tenant.org)
    assert (entry.status, entry.route, entry.key_id) == (401, "/Users", "")
    assert "not a valid key" in entry.error_detail
    secret = tenant.token.rsplit("_", 1)[-1]
    assert secret not in entry.SerializeToString().decode(errors="replace")


async def test_an_unknown_path_of_an_org_is_logged_too(http, tenant, operator_channel):
    missing = await http.get(f"{tenant.base}/Nope", headers=tenant.headers())
    assert missing.status == 404
    await flush(http)
    (entry,) = await logged(operator_channel, tenant.org)
    assert (entry.status, entry.route) == (404, "unmatched")


async def test_a_full_queue_drops_and_counts_entries_and_never_the_request(
    manual, tenant, operator_channel
):
    app = create_app(replace(manual, request_log_queue_max=2))
    async with TestClient(TestServer(app)) as client:
        for _ in range(3):
            response = await client.get(f"{tenant.base}/Users", headers=tenant.headers())
            assert response.status == 200
        assert dropped(client, "queue_full") == 1
        await flush(client)
    assert len(await logged(operator_channel, tenant.org)) == 2


async def test_a_log_the_identity_service_does_not_take_never_holds_a_request(
    manual, tenant, serve_with_faults: ServeWithFaults, operator_channel
):
    faults = Faults(hold={"RecordRequests"})
    _, port = await serve_with_faults(faults)
    settings = replace(manual, identity_addr=f"127.0.0.1:{port}", identity_timeout_seconds=1.0)
    async with TestClient(TestServer(create_app(settings))) as client:
        first = await client.get(f"{tenant.base}/Users", headers=tenant.headers())
        assert first.status == 200
        flushing = asyncio.create_task(flush(client))
        await faults.seen("RecordRequests")
        # While the log's call hangs, requests are answered all the same.
        second = await client.get(f"{tenant.base}/Users", headers=tenant.headers())
        assert second.status == 200
        await flushing  # each batch gives up at the deadline
        assert dropped(client, "unsent") == 2
        assert (await client.get(f"{tenant.base}/Users", headers=tenant.headers())).status == 200
    assert await logged(operator_channel, tenant.org) == []


async def test_batches_hold_at_most_the_batch_size_and_a_mebibyte(
    manual, tenant, serve_with_faults: ServeWithFaults, db_pool
):
    faults = Faults()
    _, port = await serve_with_faults(faults)
    settings = replace(manual, identity_addr=f"127.0.0.1:{port}", request_log_batch=200)
    async with TestClient(TestServer(create_app(settings))) as client:
        for _ in range(3):
            assert (
                await client.get(f"{tenant.base}/Users", headers=tenant.headers())
            ).status == 200
        await flush(client)
        assert faults.calls["RecordRequests"] == 1, faults.calls  # three entries: one batch
        # 300 entries of 7,000 bytes, 2.1 MB: three calls by size, not two by count.
        recorder = app_of(client)[REQUEST_LOG]
        for n in range(300):
            recorder.record(
                pb.RequestLogEntry(org_id=tenant.org, method="GET", route="/Users",
                                   status=400, idp="okta", request_id=f"big-{n}",
                                   masked_body="x" * 7000)
            )  # fmt: skip
        await flush(client)
        assert faults.calls["RecordRequests"] == 1 + 3, (faults.calls, dropped(client, "unsent"))
    stored = await db_pool.fetchval(
        "SELECT count(*) FROM request_log WHERE org_id = $1 AND request_id LIKE 'big-%'",
        tenant.org,
    )
    assert stored == 300


async def test_a_rate_limited_request_is_logged_with_its_key(manual, tenant, operator_channel):
    app = create_app(replace(manual, rate_limit_burst=1, rate_limit_per_second=0.001))
    async with TestClient(TestServer(app)) as client:
        statuses = [
            (await client.get(f"{tenant.base}/Users", headers=tenant.headers())).status
            for _ in range(2)
        ]
        assert statuses == [200, 429]
        await flush(client)
    limited, _ = await logged(operator_channel, tenant.org)
    assert (limited.status, limited.key_id) == (429, tenant.key_id)
    assert "too many requests" in limited.error_detail
