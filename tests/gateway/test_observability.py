"""Probes, /metrics and request-id logging of the gateway, on a real stack."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from gateway.app import create_app
from gateway.keys import READINESS
from gateway.metrics import idp_class
from gateway.routes import ORG
from gateway.settings import Settings
from json_logs import JsonFormatter

OKTA = "Okta SCIM Client 1.0.0"
ENTRA = "Microsoft.AAD.Provisioning.Scim/1.0"


def _samples(text: str, name: str) -> list[Sample]:
    return [
        s
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


async def _metrics(http) -> str:
    response = await http.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return str(await response.text())


async def test_metrics_label_requests_by_route_template_and_idp(http, tenant):
    created = await http.post(
        f"{tenant.base}/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "m@acme.test"},
        headers=tenant.headers(**{"User-Agent": OKTA}),
    )
    assert created.status == 201
    user_id = (await created.json())["id"]
    fetched = await http.get(
        f"{tenant.base}/Users/{user_id}", headers=tenant.headers(**{"User-Agent": ENTRA})
    )
    assert fetched.status == 200
    missing = await http.get(f"{tenant.base}/Nope/{user_id}", headers=tenant.headers())
    assert missing.status == 404

    text = await _metrics(http)
    requests = _samples(text, "scim_http_requests_total")
    labels = [s.labels for s in requests]
    assert {"route": f"{ORG}/Users", "method": "POST", "status": "201", "idp": "okta"} in labels
    assert {
        "route": f"{ORG}/Users/{{id}}",
        "method": "GET",
        "status": "200",
        "idp": "entra",
    } in labels
    assert {"route": "unmatched", "method": "GET", "status": "404", "idp": "other"} in labels
    # Never a raw path, id or org, never a raw user agent.
    assert user_id not in text
    assert tenant.org not in text
    assert "Okta SCIM Client" not in text
    latency = _samples(text, "scim_http_request_duration_seconds_count")
    assert any(
        s.labels == {"route": f"{ORG}/Users", "method": "POST", "idp": "okta"} for s in latency
    )
    rpcs = {
        (s.labels["grpc_method"], s.labels["grpc_code"])
        for s in _samples(text, "grpc_client_handled_total")
    }
    assert ("CreateUser", "OK") in rpcs
    assert ("GetUser", "OK") in rpcs
    assert _samples(text, "grpc_client_handling_seconds_count")
    assert _samples(text, "process_resident_memory_bytes")


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (OKTA, "okta"),
        ("okta-scim/2", "okta"),
        (ENTRA, "entra"),
        ("Azure AD SCIM", "entra"),
        ("Something Microsoft", "entra"),
        ("curl/8.0", "other"),
        ("", "other"),
    ],
)
def test_idp_class_of_user_agents(user_agent, expected):
    assert idp_class(user_agent) == expected


async def test_probes_need_no_key(http):
    assert (await http.get("/healthz")).status == 200
    ready = await http.get("/readyz")
    assert ready.status == 200
    assert (await http.get("/metrics")).status == 200


async def test_readyz_is_503_while_shutting_down_and_healthz_stays_200(gateway_settings):
    app = create_app(gateway_settings)
    async with TestClient(TestServer(app)) as client:
        app[READINESS].shutting_down = True
        assert (await client.get("/readyz")).status == 503
        assert (await client.get("/healthz")).status == 200


async def test_readyz_is_503_while_the_identity_service_is_unreachable(gateway_settings):
    from devstack.processes import free_port

    settings = Settings(
        identity_addr=f"127.0.0.1:{free_port()}", service_token=gateway_settings.service_token
    )
    async with TestClient(TestServer(create_app(settings))) as client:
        # The channel needs a connection attempt to learn the peer is gone;
        # wait on that outcome rather than on time.
        status = 200
        for _ in range(200):
            status = (await client.get("/readyz")).status
            if status == 503:
                break
            await _yield_a_little()
        assert status == 503
        assert (await client.get("/healthz")).status == 200


async def _yield_a_little() -> None:
    import asyncio

    await asyncio.sleep(0.05)


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


async def test_log_lines_of_a_request_carry_its_request_id(gateway_settings, tenant, json_log):
    async def explode(request: web.Request) -> web.Response:
        logging.getLogger("gateway.test").warning("about to fail")
        raise RuntimeError("boom")

    app = create_app(gateway_settings)
    app.router.add_get(f"{ORG}/Explode", explode)
    async with TestClient(TestServer(app)) as client:
        response = await client.get(
            f"{tenant.base}/Explode", headers=tenant.headers(**{"X-Request-Id": "req-42"})
        )
    assert response.status == 500
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == "req-42"]
    assert {line["message"] for line in mine} >= {"about to fail"}
    failure = next(line for line in mine if line["level"] == "ERROR")
    assert "RuntimeError: boom" in failure["exception"]
    assert {"time", "level", "logger", "message"} <= set(failure)
