"""RFC 9865 in full, over HTTP → gRPC → SQL: what a cursor is worth, and for how long.

Expiry is driven by the gateway's injected wall clock, never by sleeping.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import grpc
import pytest
from aiohttp.test_utils import TestClient, TestServer
from scim2_models import ServiceProviderConfig

from gateway.app import create_app
from gateway.revocations import REVOCATIONS
from gateway.settings import Settings
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.gateway.conftest import ADMIN, Tenant, onboard
from tests.gateway.test_protocol import create_user
from tests.gateway.test_revocation import WAIT_SECONDS, app_of, eventually, revoke

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
TIMEOUT = 600


class FakeWallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall_clock() -> FakeWallClock:
    return FakeWallClock()


@pytest.fixture
async def timed(
    gateway_settings: Settings, wall_clock: FakeWallClock
) -> AsyncIterator[TestClient[Any, Any]]:
    """The gateway with a cursorTimeout of TIMEOUT seconds, on `wall_clock`."""
    settings = replace(gateway_settings, cursor_timeout_seconds=TIMEOUT)
    app = create_app(settings, wall_clock=wall_clock)
    async with TestClient(TestServer(app)) as client:
        yield client


async def _error(response: Any) -> tuple[int, str | None, str]:
    """(status, scimType, detail) of a SCIM error answer, checked to be one (RFC 7644 §3.12)."""
    body = await response.json(content_type=None)
    assert response.content_type == "application/scim+json"
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(response.status)
    return response.status, body.get("scimType"), body["detail"]


async def _page(http, tenant: Tenant, resource: str = "Users", **params: Any) -> Any:
    return await http.get(f"{tenant.base}/{resource}", params=params, headers=tenant.headers())


async def _json(response: Any) -> dict[str, Any]:
    assert response.status == 200, await response.text()
    return await response.json(content_type=None)


async def _users(http, tenant: Tenant, count: int) -> None:
    for i in range(count):
        await create_user(http, tenant, f"c{i}@acme.test")


# ---------------------------------------------------------------- discovery


async def test_service_provider_config_says_exactly_how_we_page(timed, tenant):
    spc = await _json(await timed.get(f"{tenant.base}/ServiceProviderConfig"))
    assert spc["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": 100,
        "maxPageSize": 100,
        "cursorTimeout": TIMEOUT,
    }
    # And as python-scim's model of RFC 9865 §4 reads it.
    pagination = ServiceProviderConfig.model_validate(spc).pagination
    assert pagination is not None
    assert (pagination.cursor_timeout, pagination.default_pagination_method) == (TIMEOUT, "index")


async def test_the_default_page_size_is_the_advertised_one(http, tenant):
    """The identity service of the tests pages 200 at most; the gateway advertises 100."""
    for i in range(101):
        await create_user(http, tenant, f"d{i:03d}@acme.test")
    for params in ({}, {"cursor": ""}):
        page = await _json(await _page(http, tenant, **params))
        assert (page["totalResults"], page["itemsPerPage"]) == (102, 100)
        assert len(page["Resources"]) == 100


# ---------------------------------------------------------------- expiry


async def test_a_cursor_expires_after_cursor_timeout(timed, tenant, wall_clock):
    await _users(timed, tenant, 3)
    first = await _json(await _page(timed, tenant, cursor="", count=2))
    wall_clock.now += TIMEOUT  # the last second it is guaranteed (RFC 9865 §4)
    second = await _json(await _page(timed, tenant, cursor=first["nextCursor"], count=2))
    assert len(second["Resources"]) == 2
    wall_clock.now += 1
    expired = await _page(timed, tenant, cursor=first["nextCursor"], count=2)
    status, scim_type, detail = await _error(expired)
    assert (status, scim_type) == (400, "expiredCursor")
    assert str(TIMEOUT) in detail
    # Each page's cursors are dated by that page: the walk goes on from the last one.
    later = await _json(await _page(timed, tenant, cursor=second["previousCursor"], count=2))
    assert [r["userName"] for r in later["Resources"]] == [
        r["userName"] for r in first["Resources"]
    ]


async def test_a_search_body_cursor_expires_too(timed, tenant, wall_clock):
    await _users(timed, tenant, 3)
    body: dict[str, Any] = {"schemas": [SEARCH], "cursor": "", "count": 2}
    first = await _json(await _search(timed, tenant, "Users", body))
    wall_clock.now += TIMEOUT + 1
    expired = await _search(timed, tenant, "Users", {**body, "cursor": first["nextCursor"]})
    assert (await _error(expired))[:2] == (400, "expiredCursor")


# ---------------------------------------------------------------- tamper, scope


def _flip_last_byte(cursor: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-1] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


async def test_a_tampered_cursor_is_invalid(http, tenant):
    await _users(http, tenant, 3)
    first = await _json(await _page(http, tenant, cursor="", count=2))
    for forged in (_flip_last_byte(first["nextCursor"]), first["nextCursor"][:-2], "Zm9v", "!!"):
        response = await _page(http, tenant, cursor=forged, count=2)
        assert (await _error(response))[:2] == (400, "invalidCursor")


async def test_another_orgs_cursor_is_answered_like_a_made_up_one(http, tenant, operator_channel):
    await _users(http, tenant, 3)
    other = await onboard(operator_channel)
    await create_user(http, other, "o1@acme.test")
    await create_user(http, other, "o2@acme.test")
    theirs = (await _json(await _page(http, other, cursor="", count=1)))["nextCursor"]
    borrowed = await _page(http, tenant, cursor=theirs, count=1)
    made_up = await _page(http, tenant, cursor="bm8tc3VjaC1wYWdl", count=1)
    answer = await _error(borrowed)
    assert answer[:2] == (400, "invalidCursor")
    assert answer == await _error(made_up)


@pytest.mark.parametrize(
    ("resource", "params"),
    [
        ("Groups", {}),
        ("Users", {"filter": 'userName sw "c"'}),
        ("Users", {"sortBy": "userName"}),
        ("Users", {"sortBy": "id", "sortOrder": "descending"}),
    ],
)
async def test_a_cursor_belongs_to_its_query(http, tenant, resource, params):
    await _users(http, tenant, 3)
    users_cursor = (await _json(await _page(http, tenant, cursor="", count=2)))["nextCursor"]
    response = await _page(http, tenant, resource, cursor=users_cursor, count=2, **params)
    assert (await _error(response))[:2] == (400, "invalidCursor")


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize("count", ["abc", "1.5", "1_0", "101", "2147483648", " 2"])
async def test_a_count_a_cursor_page_cannot_honour_is_invalid_count(http, tenant, count):
    response = await _page(http, tenant, cursor="", count=count)
    assert (await _error(response))[:2] == (400, "invalidCount")


async def test_a_cursor_is_for_the_count_of_its_first_page(http, tenant):
    await _users(http, tenant, 3)
    first = await _json(await _page(http, tenant, cursor="", count=2))
    for other in ("1", "3", "100", ""):
        response = await _page(http, tenant, cursor=first["nextCursor"], count=other)
        status, scim_type, detail = await _error(response)
        assert (status, scim_type) == (400, "invalidCount")
        assert "(2)" in detail


@pytest.mark.parametrize("count", ["-5", "0"])
async def test_a_negative_or_zero_count_asks_only_for_the_total(http, tenant, count):
    """RFC 9865 Table 1: a negative count is read as 0, which asks for totalResults only."""
    await _users(http, tenant, 2)
    page = await _json(await _page(http, tenant, cursor="", count=count))
    assert page["totalResults"] == 3
    assert page["itemsPerPage"] == 0
    assert "nextCursor" not in page
    assert "previousCursor" not in page


@pytest.mark.parametrize(("count", "items"), [("-5", 0), ("101", 3), ("1.5", None)])
async def test_index_paging_keeps_rfc_7644_counts(http, tenant, count, items):
    await _users(http, tenant, 2)
    response = await _page(http, tenant, count=count)
    if items is None:
        assert (await _error(response))[:2] == (400, "invalidValue")
        return
    page = await _json(response)
    assert (page["totalResults"], page["itemsPerPage"], page["startIndex"]) == (3, items, 1)


# ---------------------------------------------------------------- .search bodies


async def _search(http, tenant: Tenant, resource: str, body: dict[str, Any]) -> Any:
    path = f"{tenant.base}/{resource}/.search" if resource else f"{tenant.base}/.search"
    return await http.post(path, json=body, headers=tenant.headers())


async def _walk(http, tenant: Tenant, resource: str, **extra: Any) -> list[list[str]]:
    """A whole walk forward by .search body cursors, then back; the forward pages."""
    body = {"schemas": [SEARCH], "count": 2, "attributes": ["id"], **extra}
    page = await _json(await _search(http, tenant, resource, {**body, "cursor": ""}))
    assert "previousCursor" not in page  # RFC 9865 Table 2: never on the first page
    forward = []
    while True:
        forward.append([r["id"] for r in page["Resources"]])
        assert page["itemsPerPage"] == len(forward[-1])
        if "nextCursor" not in page:
            break
        page = await _json(
            await _search(http, tenant, resource, {**body, "cursor": page["nextCursor"]})
        )
    backward = [forward[-1]]
    while "previousCursor" in page:
        page = await _json(
            await _search(http, tenant, resource, {**body, "cursor": page["previousCursor"]})
        )
        backward.append([r["id"] for r in page["Resources"]])
    assert backward == forward[::-1]
    return forward


async def test_search_bodies_walk_every_user_forward_and_back(http, tenant):
    await _users(http, tenant, 4)  # and the org's admin: 5 in all
    every = [r["id"] for r in (await _json(await _page(http, tenant)))["Resources"]]
    forward = await _walk(http, tenant, "Users")
    assert [len(p) for p in forward] == [2, 2, 1]
    assert [id_ for p in forward for id_ in p] == every
    by_name = await _walk(http, tenant, "Users", sortBy="userName", sortOrder="descending")
    assert sorted(id_ for p in by_name for id_ in p) == sorted(every)


async def test_search_bodies_walk_every_group_forward_and_back(http, tenant):
    ids = []
    for i in range(5):
        response = await http.post(
            f"{tenant.base}/Groups", json={"displayName": f"G{i}"}, headers=tenant.headers()
        )
        ids.append((await response.json(content_type=None))["id"])
    forward = await _walk(http, tenant, "Groups", filter='displayName sw "G"')
    assert [id_ for p in forward for id_ in p] == ids


@pytest.mark.parametrize(
    ("change", "scim_type"),
    [
        ({"count": 1.5}, "invalidCount"),
        ({"count": True}, "invalidCount"),
        ({"count": 101}, "invalidCount"),
        ({"count": 3}, "invalidCount"),
        ({"cursor": 7}, "invalidCursor"),
        ({"cursor": ["a"]}, "invalidCursor"),
        ({"filter": 'userName sw "c"'}, "invalidCursor"),
    ],
)
async def test_search_body_cursors_are_checked_like_query_ones(http, tenant, change, scim_type):
    await _users(http, tenant, 3)
    body: dict[str, Any] = {"schemas": [SEARCH], "cursor": "", "count": 2}
    first = await _json(await _search(http, tenant, "Users", body))
    response = await _search(
        http, tenant, "Users", {**body, "cursor": first["nextCursor"], **change}
    )
    assert (await _error(response))[:2] == (400, scim_type)


async def test_the_root_search_walks_users_then_groups_by_cursor(http, tenant):
    await _users(http, tenant, 2)  # with the admin, 3 users
    for i in range(4):
        await http.post(
            f"{tenant.base}/Groups", json={"displayName": f"R{i}"}, headers=tenant.headers()
        )
    by_index = await _json(await _search(http, tenant, "", {"schemas": [SEARCH], "count": 7}))
    every = [r["id"] for r in by_index["Resources"]]
    assert len(every) == 7
    for count in (1, 2, 3, 7, 100):
        seen: list[str] = []
        body = {"schemas": [SEARCH], "count": count, "attributes": ["id"], "cursor": ""}
        while True:
            page = await _json(await _search(http, tenant, "", body))
            assert page["totalResults"] == 7
            assert "previousCursor" not in page  # forward only
            assert "startIndex" not in page
            seen += [r["id"] for r in page["Resources"]]
            assert len(page["Resources"]) == (
                count if "nextCursor" in page else len(page["Resources"])
            )
            if "nextCursor" not in page:
                break
            body = {**body, "cursor": page["nextCursor"]}
        assert seen == every, count


async def test_a_root_search_cursor_is_not_a_users_one(http, tenant):
    await _users(http, tenant, 3)
    body: dict[str, Any] = {"schemas": [SEARCH], "cursor": "", "count": 2}
    users = await _json(await _search(http, tenant, "Users", body))
    response = await _search(http, tenant, "", {**body, "cursor": users["nextCursor"]})
    assert (await _error(response))[:2] == (400, "invalidCursor")


# ---------------------------------------------------------------- authorization per page


async def _second_key(operator_channel: grpc.aio.Channel, tenant: Tenant) -> Tenant:
    created = await pb_grpc.OrgAdminStub(operator_channel).CreateScimKey(
        pb.CreateScimKeyRequest(
            context=pb.RequestContext(actor=pb.Actor(admin_email=ADMIN)),
            org_id=tenant.org,
            name="Rotated",
        )
    )
    return Tenant(tenant.org, created.token, created.key.id)


async def test_every_page_is_authorized_anew(http, tenant, operator_channel):
    """RFC 9865 §5.2: a cursor grants nothing; a revoked key's walk stops at once."""
    await _users(http, tenant, 3)
    rotated = await _second_key(operator_channel, tenant)
    watcher = app_of(http)[REVOCATIONS]
    await asyncio.wait_for(watcher.connected.wait(), WAIT_SECONDS)
    first = await _json(await _page(http, tenant, cursor="", count=2))
    await revoke(operator_channel, tenant)
    await eventually(lambda: tenant.key_id in watcher.dropped)
    refused = await _page(http, tenant, cursor=first["nextCursor"], count=2)
    assert refused.status == 401
    # Authorization is the org's, by whichever of its live keys asks.
    rest = await _json(await _page(http, rotated, cursor=first["nextCursor"], count=2))
    assert len(rest["Resources"]) == 2
    assert "nextCursor" not in rest
