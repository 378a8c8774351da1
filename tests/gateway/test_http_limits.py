"""Every answer a SCIM error, the HTTP layer's too.

The production server (`ScimAppRunner`, as `python -m gateway` runs it) on a
real port, spoken to over a raw socket where aiohttp's client would refuse
to send the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from aiohttp import web

from gateway.app import create_app
from gateway.http_server import (
    MAX_FIELD_BYTES,
    MAX_HEADERS,
    MAX_REQUEST_LINE_BYTES,
    ScimAppRunner,
)
from gateway.scim.projection import MAX_ATTRIBUTE_NAMES
from gateway.settings import Settings
from scim_schema.urns import ERROR as ERROR_SCHEMA
from tests.gateway.conftest import Tenant


@pytest.fixture
async def port(gateway_settings: Settings) -> AsyncIterator[int]:
    runner = ScimAppRunner(create_app(gateway_settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield runner.addresses[0][1]
    await runner.cleanup()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]


async def send(port: int, message: bytes) -> Answer:
    """One request as raw bytes; the answer, read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(message)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    top, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return Answer(int(status_line.split()[1]), headers, orjson.loads(payload))


def request(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: scim.example.test", *headers]
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    return "\r\n".join(lines).encode() + body


def auth(tenant: Tenant) -> str:
    return f"Authorization: Bearer {tenant.token}"


def assert_scim_error(answer: Answer, status: int) -> None:
    assert answer.status == status
    assert answer.headers["content-type"].startswith("application/scim+json")
    assert answer.body["schemas"] == [ERROR_SCHEMA]
    assert answer.body["status"] == str(status)
    assert answer.body["detail"]


async def user_count(http: Any, tenant: Tenant) -> int:
    listed = await http.get(f"{tenant.base}/Users?count=0", headers=tenant.headers())
    total: int = (await listed.json(content_type=None))["totalResults"]
    return total


SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# A valid body of each write, so that only the id is wrong.
_WRITES: dict[str, dict[str, Any]] = {
    "PUT": {"userName": "n@acme.test", "displayName": "n"},
    "PATCH": {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "displayName", "value": "n"}],
    },
}
_CREATE = orjson.dumps({"userName": "padded@acme.test"})


async def test_an_oversized_authorization_header_is_431(port, tenant):
    huge = "Authorization: Bearer " + "a" * 64 * 1024
    answer = await send(port, request("GET", f"{tenant.base}/Users", huge))
    assert_scim_error(answer, 431)
    assert str(MAX_FIELD_BYTES) in answer.body["detail"]


async def test_a_write_with_an_oversized_header_changes_nothing(port, http, tenant):
    before = await user_count(http, tenant)
    padded = request(
        "POST",
        f"{tenant.base}/Users",
        auth(tenant),
        "Content-Type: application/scim+json",
        "X-Padding: " + "p" * (MAX_FIELD_BYTES + 1),
        body=_CREATE,
    )
    assert_scim_error(await send(port, padded), 431)
    assert await user_count(http, tenant) == before
    # The same request without the padding is served: the limit refused it.
    plain = request(
        "POST",
        f"{tenant.base}/Users",
        auth(tenant),
        "Content-Type: application/scim+json",
        body=_CREATE,
    )
    created = await send(port, plain)
    assert created.status == 201
    assert await user_count(http, tenant) == before + 1


async def test_too_many_headers_is_431(port, tenant):
    many = [f"X-Header-{i}: x" for i in range(MAX_HEADERS + 1)]
    answer = await send(port, request("GET", f"{tenant.base}/Users", auth(tenant), *many))
    assert_scim_error(answer, 431)


async def test_a_url_over_the_limit_is_414(port, tenant):
    terms = "%20or%20".join(["userName%20pr"] * 10_000)  # a 10,000-term filter
    answer = await send(port, request("GET", f"{tenant.base}/Users?filter={terms}", auth(tenant)))
    assert_scim_error(answer, 414)
    assert str(MAX_REQUEST_LINE_BYTES) in answer.body["detail"]


async def test_a_method_no_route_knows_is_501(port, http, tenant):
    before = await user_count(http, tenant)
    answer = await send(port, request("FOO", f"{tenant.base}/Users", auth(tenant), body=_CREATE))
    assert_scim_error(answer, 501)
    assert await user_count(http, tenant) == before


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/Users", "GET, POST"),
        ("DELETE", "/Groups", "GET, POST"),
        ("PROPFIND", "/Users/some-id", "DELETE, GET, PATCH, PUT"),
        ("POST", "/ServiceProviderConfig", "GET"),
    ],
)
async def test_a_method_the_route_does_not_take_is_405_with_allow(
    port, tenant, method, path, allowed
):
    answer = await send(port, request(method, tenant.base + path, auth(tenant)))
    assert_scim_error(answer, 405)
    assert answer.headers["allow"] == allowed


async def test_malformed_http_is_a_scim_400(port, tenant):
    bad = f"GET {tenant.base}/Users HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n"
    assert_scim_error(await send(port, bad.encode()), 400)


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("filter", ('userName eq "a"', 'userName eq "b"')),
        ("startIndex", ("1", "2")),
        ("count", ("1", "2")),
        ("sortBy", ("userName", "id")),
        ("sortOrder", ("ascending", "descending")),
        ("attributes", ("userName", "id")),
        ("excludedAttributes", ("emails", "name")),
        ("cursor", ("", "")),
    ],
)
async def test_a_single_valued_parameter_given_twice_is_invalid(http, tenant, name, values):
    query = [(name, value) for value in values]
    listed = await http.get(f"{tenant.base}/Users", params=query, headers=tenant.headers())
    assert listed.status == 400
    assert listed.content_type == "application/scim+json"
    body = await listed.json(content_type=None)
    assert body["scimType"] == "invalidValue"
    assert name in body["detail"]


async def test_a_write_with_a_parameter_given_twice_changes_nothing(http, tenant):
    created = await http.post(
        f"{tenant.base}/Users", json={"userName": "twice@acme.test"}, headers=tenant.headers()
    )
    user = await created.json(content_type=None)
    replaced = await http.put(
        f"{tenant.base}/Users/{user['id']}",
        params=[("attributes", "userName"), ("attributes", "id")],
        json={"userName": "renamed@acme.test"},
        headers=tenant.headers(),
    )
    assert replaced.status == 400
    fetched = await http.get(f"{tenant.base}/Users/{user['id']}", headers=tenant.headers())
    assert (await fetched.json(content_type=None))["userName"] == "twice@acme.test"


@pytest.mark.parametrize("resource", ["Users", "Groups"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("bad_id", ["%00", "a%00b", "%01", "%1F", "%7F", "x%0Ay"])
async def test_an_id_with_control_characters_is_not_found(http, tenant, resource, method, bad_id):
    body = _WRITES.get(method)
    answer = await http.request(
        method, f"{tenant.base}/{resource}/{bad_id}", json=body, headers=tenant.headers()
    )
    assert answer.status == 404
    assert answer.content_type == "application/scim+json"
    error = await answer.json(content_type=None)
    assert error["schemas"] == [ERROR_SCHEMA]
    assert error["status"] == "404"


def _within_the_url_limit(tenant: Tenant, query: str) -> bytes:
    message = request("GET", f"{tenant.base}/Users?{query}", auth(tenant))
    assert len(message.split(b"\r\n")[0]) <= MAX_REQUEST_LINE_BYTES
    return message


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 4000 + "userName%20pr" + ")" * 4000,  # 4,000 deep, under the length limit
        "not%20(" * 1500 + "userName%20pr" + ")" * 1500,
        "emails[" * 3000 + "value%20pr" + "]" * 3000,
        "(" * 5000 + "userName%20pr" + ")" * 5000,  # 5,000 deep, over the length limit
        "%20or%20".join(["userName%20eq%20%22x%22"] * 1000),  # 1,000 terms, too long
    ],
)
async def test_deep_or_huge_filters_in_the_url_are_invalid_filters(port, tenant, expression):
    answer = await send(port, _within_the_url_limit(tenant, f"filter={expression}"))
    assert_scim_error(answer, 400)
    assert answer.body["scimType"] == "invalidFilter"


@pytest.mark.parametrize(
    "query",
    [
        "attributes=" + ",".join(["name"] * 5000),
        "excludedAttributes=" + ",".join(["name"] * 5000),
        "sortBy=" + "a" * 30_000,
        "cursor=" + "a" * 30_000,
    ],
)
async def test_huge_parameters_in_the_url_are_invalid_values(port, tenant, query):
    answer = await send(port, _within_the_url_limit(tenant, query))
    assert_scim_error(answer, 400)
    assert answer.body["scimType"] in {"invalidValue", "invalidCursor"}


@pytest.mark.parametrize(
    ("query", "start_index", "whole"),
    [
        ("startIndex=" + "9" * 5000, 2**31 - 1, False),  # past the end, like any past int32
        ("startIndex=-" + "9" * 5000, 1, True),  # below 1 is 1
        ("count=" + "9" * 5000, 1, True),  # capped at the page size
        ("count=-" + "9" * 5000, 1, False),  # a negative count is 0
    ],
)
async def test_integers_of_thousands_of_digits_are_clamped_like_any_other(
    port, tenant, query, start_index, whole
):
    answer = await send(port, _within_the_url_limit(tenant, query))
    assert answer.status == 200
    assert answer.body["startIndex"] == start_index
    assert answer.body["totalResults"] == 1  # the org's admin
    assert answer.body["itemsPerPage"] == (1 if whole else 0)


async def test_attributes_may_name_up_to_the_bound(http, tenant):
    names = ",".join(["userName"] * MAX_ATTRIBUTE_NAMES)
    listed = await http.get(
        f"{tenant.base}/Users", params={"attributes": names}, headers=tenant.headers()
    )
    assert listed.status == 200
    assert set((await listed.json(content_type=None))["Resources"][0]) == {
        "id",
        "schemas",
        "userName",
    }


async def test_a_search_naming_thousands_of_attributes_is_invalid(http, tenant):
    search = await http.post(
        f"{tenant.base}/Users/.search",
        json={"schemas": [SEARCH], "attributes": ["userName"] * 5000},
        headers=tenant.headers(),
    )
    assert search.status == 400
    assert (await search.json(content_type=None))["scimType"] == "invalidValue"


async def test_an_exception_past_every_middleware_is_a_generic_scim_500(gateway_settings):
    """A bug outside the error middleware: aiohttp's own handler answers, in SCIM."""

    @web.middleware
    async def broken(request: web.Request, handler: Any) -> web.StreamResponse:
        raise RuntimeError("secret detail of a bug")

    app = create_app(gateway_settings)
    app.middlewares.insert(0, broken)  # outside even the metrics
    runner = ScimAppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        answer = await send(runner.addresses[0][1], request("GET", "/healthz"))
    finally:
        await runner.cleanup()
    assert_scim_error(answer, 500)
    assert "secret" not in answer.body["detail"]
    assert "Traceback" not in answer.body["detail"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_a_bulk_operation_on_an_id_with_a_nul_is_not_found(http, tenant, method):
    operation = {"method": method, "path": "/Users/a\u0000b", "data": _WRITES.get(method)}
    response = await http.post(
        f"{tenant.base}/Bulk",
        json={"schemas": [BULK], "Operations": [operation]},
        headers=tenant.headers(),
    )
    assert response.status == 200
    (result,) = (await response.json(content_type=None))["Operations"]
    assert result["status"] == "404"
