"""totalResults of an unfiltered list, from counters kept with every write (SPEC §3, §8).

The count of an org's users or groups must be right after creates, deletes,
Bulk, writes that fail and roll back, and org creation, without count(*).
"""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Tenant
from tests.gateway.test_protocol import create_user, user_body

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


async def get_json(http, tenant: Tenant, path: str, **params: Any) -> dict[str, Any]:
    response = await http.get(f"{tenant.base}/{path}", params=params, headers=tenant.headers())
    assert response.status == 200, await response.text()
    return await response.json(content_type=None)


async def run_bulk(http, tenant: Tenant, operations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = {"schemas": [BULK], "Operations": operations}
    response = await http.post(f"{tenant.base}/Bulk", json=body, headers=tenant.headers())
    assert response.status == 200, await response.text()
    return (await response.json(content_type=None))["Operations"]


async def delete_resource(http, tenant: Tenant, resource: str, id_: str) -> int:
    response = await http.delete(f"{tenant.base}/{resource}/{id_}", headers=tenant.headers())
    return response.status


async def _totals(http, tenant: Tenant, db_pool) -> tuple[int, int]:
    """(users, groups) as totalResults says, checked against the tables."""
    users = (await get_json(http, tenant, "Users", count=0))["totalResults"]
    groups = (await get_json(http, tenant, "Groups", count=0))["totalResults"]
    stored = await db_pool.fetchrow(
        "SELECT (SELECT count(*) FROM users WHERE org_id = $1) AS users,"
        " (SELECT count(*) FROM groups WHERE org_id = $1) AS groups",
        tenant.org,
    )
    assert (users, groups) == (stored["users"], stored["groups"])
    return users, groups


async def test_total_results_follow_every_create_and_delete(http, tenant, db_pool):
    assert await _totals(http, tenant, db_pool) == (1, 0)  # the org's admin
    made = [(await create_user(http, tenant, f"t{i}@acme.test"))["id"] for i in range(3)]
    duplicate = await http.post(
        f"{tenant.base}/Users", json=user_body("t0@acme.test"), headers=tenant.headers()
    )
    assert duplicate.status == 409
    assert await _totals(http, tenant, db_pool) == (4, 0)
    done = await run_bulk(
        http,
        tenant,
        [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body("b1@acme.test")},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("t1@acme.test")},
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": user_body("b2@acme.test")},
            {"method": "DELETE", "path": f"/Users/{made[0]}"},
        ],
    )
    assert [o["status"] for o in done] == ["201", "409", "201", "204"]
    assert await _totals(http, tenant, db_pool) == (5, 0)
    assert await delete_resource(http, tenant, "Users", made[1]) == 204
    assert await delete_resource(http, tenant, "Users", made[1]) == 404
    assert await _totals(http, tenant, db_pool) == (4, 0)

    group_ids = []
    for name in ("G1", "G2"):
        response = await http.post(
            f"{tenant.base}/Groups", json={"displayName": name}, headers=tenant.headers()
        )
        group_ids.append((await response.json(content_type=None))["id"])
    # Inserted, then refused for its unknown member: the transaction rolls back.
    unknown = {"displayName": "G3", "members": [{"value": "00000000-0000-4000-8000-000000000000"}]}
    refused = await http.post(f"{tenant.base}/Groups", json=unknown, headers=tenant.headers())
    assert refused.status == 400
    assert await _totals(http, tenant, db_pool) == (4, 2)
    assert await delete_resource(http, tenant, "Groups", group_ids[0]) == 204
    assert await _totals(http, tenant, db_pool) == (4, 1)
