"""/Bulk PUT, PATCH and DELETE (RFC 7644 §3.7), with bulkId references, over HTTP.

Each operation is its own transaction (SPEC §3, §7): the request goes on past
a failing operation, and the failing one leaves nothing behind.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from tests.faults import events_of, failing_rows, org_state
from tests.gateway.conftest import Tenant

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
STRANGER = "5f0c3f9e-0000-4000-8000-000000000000"  # well-formed, nobody's id


def _user(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": user_name, "displayName": user_name, **extra}


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


async def _bulk(http: Any, tenant: Tenant, *operations: dict[str, Any]) -> list[dict[str, Any]]:
    response = await http.post(
        f"{tenant.base}/Bulk",
        json={"schemas": [BULK_REQUEST], "Operations": list(operations)},
        headers=tenant.headers(),
    )
    assert response.status == 200, await response.text()
    body = await response.json(content_type=None)
    assert body["schemas"] == [BULK_RESPONSE]
    results: list[dict[str, Any]] = body["Operations"]
    return results


async def _get(http: Any, tenant: Tenant, path: str) -> tuple[int, dict[str, Any]]:
    response = await http.get(f"{tenant.base}{path}", headers=tenant.headers())
    return response.status, await response.json(content_type=None)


async def _post(http: Any, tenant: Tenant, path: str, body: dict[str, Any]) -> str:
    response = await http.post(f"{tenant.base}{path}", json=body, headers=tenant.headers())
    assert response.status == 201, await response.text()
    return str((await response.json(content_type=None))["id"])


def _id_of(result: dict[str, Any], tenant: Tenant, kind: str) -> str:
    prefix = f"{tenant.public_base}/{kind}/"
    assert result["location"].startswith(prefix), result
    return str(result["location"].removeprefix(prefix))


async def test_put_patch_and_delete_follow_bulk_ids(http, tenant, db_pool):
    start = len(await events_of(db_pool, tenant.org))
    results = await _bulk(
        http,
        tenant,
        {"method": "POST", "path": "/Users", "bulkId": "ada", "data": _user("ada@acme.test")},
        {"method": "POST", "path": "/Users", "bulkId": "bob", "data": _user("bob@acme.test")},
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "eng",
            "data": {
                "schemas": [GROUP],
                "displayName": "Eng",
                "members": [{"value": "bulkId:ada"}],
            },
        },
        {
            "method": "PUT",
            "path": "/Groups/bulkId:eng",
            "data": {
                "schemas": [GROUP],
                "displayName": "Engineering",
                "members": [{"value": "bulkId:ada"}, {"value": "bulkId:bob"}],
            },
        },
        {
            "method": "PATCH",
            "path": "/Users/bulkId:ada",
            "data": _patch({"op": "replace", "value": {"active": False}}),
        },
        {
            "method": "PATCH",
            "path": "/Groups/bulkId:eng",
            "data": _patch({"op": "remove", "path": "members", "value": [{"value": "bulkId:ada"}]}),
        },
        {
            "method": "PUT",
            "path": "/Users/bulkId:bob",
            "data": _user("bob@acme.test", title="Builder"),
        },
        {"method": "DELETE", "path": "/Users/bulkId:bob"},
    )
    assert [(r["method"], r["status"]) for r in results] == [
        ("POST", "201"),
        ("POST", "201"),
        ("POST", "201"),
        ("PUT", "200"),
        ("PATCH", "200"),
        ("PATCH", "200"),
        ("PUT", "200"),
        ("DELETE", "204"),
    ]
    assert [r.get("bulkId") for r in results[:3]] == ["ada", "bob", "eng"]
    ada, bob = _id_of(results[0], tenant, "Users"), _id_of(results[1], tenant, "Users")
    eng = _id_of(results[2], tenant, "Groups")
    # PUT, PATCH and DELETE acted on what the bulkIds named, and say so.
    assert [_id_of(r, tenant, "Groups") for r in (results[3], results[5])] == [eng, eng]
    assert _id_of(results[4], tenant, "Users") == ada
    assert [_id_of(r, tenant, "Users") for r in results[6:]] == [bob, bob]
    # A user's version also moves when its groups do: ada joined Eng (2) and saw
    # it renamed (3) before her PATCH (4); bob joined Engineering (2) before his PUT.
    assert [r.get("version") for r in results] == [
        'W/"1"',
        'W/"1"',
        'W/"1"',
        'W/"2"',
        'W/"4"',
        'W/"3"',
        'W/"3"',
        None,
    ]

    status, group = await _get(http, tenant, f"/Groups/{eng}")
    assert status == 200
    assert group["displayName"] == "Engineering"
    assert group["members"] == []  # ada removed by the PATCH, bob by his deletion
    assert group["meta"]["version"] == 'W/"4"'
    status, user = await _get(http, tenant, f"/Users/{ada}")
    assert (status, user["active"]) == (200, False)
    assert (await _get(http, tenant, f"/Users/{bob}"))[0] == 404
    assert (await events_of(db_pool, tenant.org))[start:] == [
        "user.created",
        "user.created",
        "group.created",
        "group.member_added",
        "group.renamed",
        "group.member_added",
        "user.updated",
        "user.deactivated",
        "group.member_removed",
        "user.updated",
        "group.member_removed",
        "user.deleted",
    ]


async def test_an_operation_version_is_its_if_match(http, tenant):
    eng = await _post(http, tenant, "/Groups", {"schemas": [GROUP], "displayName": "Eng"})
    rename = _patch({"op": "replace", "path": "displayName", "value": "Renamed"})
    put = {"schemas": [GROUP], "displayName": "Renamed"}
    path = f"/Groups/{eng}"
    stale = await _bulk(
        http,
        tenant,
        {"method": "PUT", "path": path, "version": 'W/"9"', "data": put},
        {"method": "PATCH", "path": path, "version": 'W/"9"', "data": rename},
        {"method": "DELETE", "path": path, "version": 'W/"9"'},
    )
    assert [r["status"] for r in stale] == ["412", "412", "412"]
    assert all(r["response"]["status"] == "412" for r in stale)
    status, group = await _get(http, tenant, path)
    assert (status, group["displayName"], group["meta"]["version"]) == (200, "Eng", 'W/"1"')

    current = await _bulk(
        http,
        tenant,
        {"method": "PATCH", "path": path, "version": 'W/"1"', "data": rename},
        {"method": "DELETE", "path": path, "version": '"2"'},
    )
    assert [(r["status"], r.get("version")) for r in current] == [("200", 'W/"2"'), ("204", None)]
    assert (await _get(http, tenant, path))[0] == 404


async def _eng_with_two(http: Any, tenant: Tenant) -> tuple[str, str, str]:
    ada = await _post(http, tenant, "/Users", _user("ada@acme.test"))
    bob = await _post(http, tenant, "/Users", _user("bob@acme.test"))
    members = [{"value": ada}, {"value": bob}]
    eng = await _post(
        http, tenant, "/Groups", {"schemas": [GROUP], "displayName": "Eng", "members": members}
    )
    return ada, bob, eng


async def _state(db_pool: asyncpg.Pool, tenant: Tenant) -> dict[str, list[Any]]:
    return await org_state(db_pool, tenant.org)


async def test_failing_operations_leave_nothing_behind_and_the_rest_go_on(http, tenant, db_pool):
    ada, bob, eng = await _eng_with_two(http, tenant)
    before = await _state(db_pool, tenant)
    half = {
        "schemas": [GROUP],
        "displayName": "Half",
        "members": [{"value": ada}, {"value": STRANGER}],
    }
    results = await _bulk(
        http,
        tenant,
        # The group row is inserted before its members are checked.
        {"method": "POST", "path": "/Groups", "bulkId": "half", "data": half},
        # The removal of ada runs before the add finds the stranger.
        {
            "method": "PATCH",
            "path": f"/Groups/{eng}",
            "data": _patch(
                {"op": "remove", "path": "members", "value": [{"value": ada}]},
                {"op": "add", "path": "members", "value": [{"value": STRANGER}]},
            ),
        },
        {
            "method": "PUT",
            "path": f"/Groups/{eng}",
            "data": {
                "schemas": [GROUP],
                "displayName": "Renamed",
                "members": [{"value": STRANGER}],
            },
        },
        {"method": "PUT", "path": f"/Users/{bob}", "data": _user("ADA@acme.test")},
        {"method": "DELETE", "path": f"/Users/{STRANGER}"},
        # A reference to an operation that failed names nothing.
        {"method": "DELETE", "path": "/Groups/bulkId:half"},
    )
    assert [(r["status"], r["response"].get("scimType")) for r in results] == [
        ("400", "invalidValue"),
        ("400", "invalidValue"),
        ("400", "invalidValue"),
        ("409", "uniqueness"),
        ("404", None),
        ("400", "invalidValue"),
    ]
    assert results[0]["bulkId"] == "half"
    assert await _state(db_pool, tenant) == before

    mixed = await _bulk(
        http,
        tenant,
        {"method": "POST", "path": "/Groups", "data": half},
        {"method": "POST", "path": "/Users", "data": _user("cy@acme.test")},
        {"method": "DELETE", "path": f"/Groups/{eng}"},
    )
    assert [r["status"] for r in mixed] == ["400", "201", "204"]
    status, listed = await _get(http, tenant, "/Groups")
    assert (status, listed["totalResults"]) == (200, 0)  # no "Half", and Eng is gone


async def test_an_operation_whose_events_fail_is_not_applied(http, tenant, db_pool):
    ada, _, eng = await _eng_with_two(http, tenant)
    before = await _state(db_pool, tenant)
    operations: list[dict[str, Any]] = [
        {"method": "POST", "path": "/Users", "bulkId": "cy", "data": _user("cy@acme.test")},
        {"method": "PUT", "path": f"/Users/{ada}", "data": _user("ada@acme.test", title="T")},
        {
            "method": "PATCH",
            "path": f"/Groups/{eng}",
            "data": _patch({"op": "remove", "path": "members"}),
        },
        {"method": "DELETE", "path": f"/Users/{ada}"},
    ]
    async with failing_rows(db_pool, "event_staging", tenant.org):
        results = await _bulk(http, tenant, *operations)
    assert [r["status"] for r in results] == ["500", "500", "500", "500"]
    assert all("injected" not in str(r["response"]) for r in results)
    assert await _state(db_pool, tenant) == before
    # Without the fault the same operations go through.
    assert [r["status"] for r in await _bulk(http, tenant, *operations)] == [
        "201",
        "200",
        "200",
        "204",
    ]
