"""Inputs a careless or hostile client may send: a clear 4xx, never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.gateway.conftest import ADMIN, Tenant

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


async def _user(http, tenant: Tenant, user_name: str) -> dict[str, Any]:
    response = await http.post(
        f"{tenant.base}/Users", json={"userName": user_name}, headers=tenant.headers()
    )
    assert response.status == 201
    return await response.json(content_type=None)


async def _status(response) -> tuple[int, str | None]:
    body = await response.json(content_type=None) if response.status != 204 else {}
    return response.status, body.get("scimType")


async def test_removing_an_empty_member_list_removes_nobody(http, tenant):
    user = await _user(http, tenant, "kept@acme.test")
    group = await (
        await http.post(
            f"{tenant.base}/Groups",
            json={"displayName": "G", "members": [{"value": user["id"]}]},
            headers=tenant.headers(),
        )
    ).json(content_type=None)
    patched = await http.patch(
        f"{tenant.base}/Groups/{group['id']}",
        json={"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members", "value": []}]},
        headers=tenant.headers(),
    )
    body = await patched.json(content_type=None)
    assert [m["value"] for m in body["members"]] == [user["id"]]
    assert body["meta"]["version"] == group["meta"]["version"]


async def test_the_orgs_direct_admin_cannot_be_deleted_by_scim(http, tenant):
    found = await (
        await http.get(
            f"{tenant.base}/Users",
            params={"filter": f'userName eq "{ADMIN}"'},
            headers=tenant.headers(),
        )
    ).json(content_type=None)
    admin_id = found["Resources"][0]["id"]
    refused = await http.delete(f"{tenant.base}/Users/{admin_id}", headers=tenant.headers())
    assert refused.status == 403
    still = await http.get(f"{tenant.base}/Users/{admin_id}", headers=tenant.headers())
    assert still.status == 200


@pytest.mark.parametrize(
    "body",
    [
        {"userName": "x" * 5000},
        {"userName": "long-email@acme.test", "emails": [{"value": "e" * 5000}]},
        {"userName": "long-name@acme.test", "displayName": "d" * 5000},
    ],
)
async def test_over_long_indexed_values_are_invalid(http, tenant, body):
    response = await http.post(f"{tenant.base}/Users", json=body, headers=tenant.headers())
    assert await _status(response) == (400, "invalidValue")


async def test_over_long_group_name_is_invalid(http, tenant):
    response = await http.post(
        f"{tenant.base}/Groups", json={"displayName": "g" * 5000}, headers=tenant.headers()
    )
    assert await _status(response) == (400, "invalidValue")


async def test_start_index_past_int32_is_just_past_the_end(http, tenant):
    response = await http.get(
        f"{tenant.base}/Users", params={"startIndex": str(2**31)}, headers=tenant.headers()
    )
    body = await response.json(content_type=None)
    assert response.status == 200
    assert body["Resources"] == []


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
async def test_non_json_number_literals_are_invalid_syntax(http, tenant, literal):
    # RFC 8259 §6: JSON has no NaN or Infinity; Python's json module accepts them.
    search = await http.post(
        f"{tenant.base}/Users/.search",
        data=f'{{"schemas": ["{SEARCH}"], "count": {literal}}}',
        headers=tenant.headers(),
    )
    assert await _status(search) == (400, "invalidSyntax")
    create = await http.post(
        f"{tenant.base}/Users",
        data=f'{{"userName": "nan@x.test", "x-score": {literal}}}',
        headers=tenant.headers(),
    )
    assert await _status(create) == (400, "invalidSyntax")


async def test_absurd_etags_match_nothing(http, tenant):
    user = await _user(http, tenant, "etag@acme.test")
    url = f"{tenant.base}/Users/{user['id']}"
    stale = await http.put(
        url,
        json={"userName": "etag@acme.test"},
        headers=tenant.headers(**{"If-Match": 'W/"' + "9" * 30 + '"'}),
    )
    assert stale.status == 412
    fresh = await http.get(url, headers=tenant.headers(**{"If-None-Match": '"' + "1" * 5000 + '"'}))
    assert fresh.status == 200


async def test_deeply_nested_bodies_are_invalid_syntax(http, tenant):
    nested: object = "x"
    for _ in range(40):  # deeper than SCIM ever nests, shallower than Python's limit
        nested = [nested]
    too_deep = json.dumps({"userName": "n@acme.test", "title": nested})
    for body in ("[" * 200_000, too_deep):
        response = await http.post(f"{tenant.base}/Users", data=body, headers=tenant.headers())
        assert await _status(response) == (400, "invalidSyntax")


@pytest.mark.parametrize(
    "expression",
    [
        "not (" * 25 + 'userName eq "x"' + ")" * 25,
        'meta.created gt "9999-12-31T23:59:59-05:00"',
        'meta.lastModified lt "0001-01-01T00:00:00+05:00"',
    ],
)
async def test_hostile_filters_are_invalid_filters(http, tenant, expression):
    response = await http.get(
        f"{tenant.base}/Users", params={"filter": expression}, headers=tenant.headers()
    )
    assert await _status(response) == (400, "invalidFilter")


@pytest.mark.parametrize("payload", [{"o": 2**70}, {"c": "9999-12-31T23:59:59-05:00", "i": "x"}])
async def test_crafted_cursors_are_invalid(http, tenant, payload):
    cursor = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    params = {"cursor": cursor, "count": "2"}
    if "o" in payload:
        params["sortBy"] = "userName"
    response = await http.get(f"{tenant.base}/Users", params=params, headers=tenant.headers())
    assert await _status(response) == (400, "invalidCursor")


async def test_a_non_ascii_bearer_is_unauthorized(http, tenant):
    response = await http.get(
        f"{tenant.base}/Users", headers={"Authorization": "Bearer gscim_\xff\xfe_abc"}
    )
    assert response.status == 401


async def test_create_keeps_location_when_meta_is_projected_away(http, tenant):
    response = await http.post(
        f"{tenant.base}/Users",
        params={"excludedAttributes": "meta"},
        json={"userName": "loc@acme.test"},
        headers=tenant.headers(),
    )
    body = await response.json(content_type=None)
    assert response.status == 201
    assert "meta" not in body
    assert response.headers["Location"] == f"{tenant.public_base}/Users/{body['id']}"
