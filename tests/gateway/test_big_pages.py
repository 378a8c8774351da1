"""List pages larger than one gRPC message (4 MiB by default) answer in full.

Okta's group import reads `GET /Groups?startIndex=1&count=100` with members;
on a large org that page is many megabytes. It travels from the identity
service in chunks and is written to the client as they come, so its size is
bounded by nothing but the page size.
"""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Tenant
from tests.gateway.test_large_groups import seed_users

_GRPC_DEFAULT_MAX_MESSAGE = 4 * 1024 * 1024
_LONG = "n" * 1000  # within the 1,024-character limit of indexed values


async def _json(response) -> Any:
    assert response.status == 200, (await response.text())[:2000]
    assert response.content_type == "application/scim+json"
    return await response.json(content_type=None)


async def test_a_page_of_groups_over_4_mib_is_answered_whole(http, tenant: Tenant, db_pool):
    # Members' `display` is their user's displayName: 1,000 characters each.
    ids = await seed_users(db_pool, tenant.org, 1000, display_prefix=_LONG)
    for n in range(5):
        created = await http.post(
            f"{tenant.base}/Groups",
            json={"displayName": f"Team {n}", "members": [{"value": i} for i in ids]},
            headers=tenant.headers(),
            params={"excludedAttributes": "members"},
        )
        assert created.status == 201, await created.text()

    okta_import = {"startIndex": "1", "count": "100"}
    response = await http.get(f"{tenant.base}/Groups", params=okta_import, headers=tenant.headers())
    raw = await response.read()
    assert len(raw) > _GRPC_DEFAULT_MAX_MESSAGE
    page = await _json(response)
    assert (page["totalResults"], page["itemsPerPage"], page["startIndex"]) == (5, 5, 1)
    assert sorted(g["displayName"] for g in page["Resources"]) == [f"Team {n}" for n in range(5)]
    for group in page["Resources"]:
        assert sorted(m["value"] for m in group["members"]) == sorted(ids)


async def test_a_page_of_users_over_4_mib_is_answered_whole(http, tenant: Tenant):
    # About 45 KB a user, in an attribute no index holds.
    addresses = [{"type": "work", "formatted": f"{n} " + "a" * 900} for n in range(50)]
    for n in range(100):
        body = {"userName": f"u{n}@big.test", "addresses": addresses}
        created = await http.post(
            f"{tenant.base}/Users",
            json=body,
            headers=tenant.headers(),
            params={"attributes": "userName"},
        )
        assert created.status == 201, await created.text()

    for query in ({"count": "100"}, {"count": "100", "cursor": ""}):
        response = await http.get(f"{tenant.base}/Users", params=query, headers=tenant.headers())
        raw = await response.read()
        assert len(raw) > _GRPC_DEFAULT_MAX_MESSAGE
        page = await _json(response)
        users = [u for u in page["Resources"] if u["userName"].endswith("@big.test")]
        assert page["itemsPerPage"] == len(page["Resources"]) == 100  # the admin + 99 of ours
        assert len(users) == 99
        assert all(u["addresses"] == addresses for u in users)


async def test_a_search_page_over_4_mib_is_answered_whole(http, tenant: Tenant):
    addresses = [{"type": "work", "formatted": f"{n} " + "b" * 900} for n in range(50)]
    for n in range(100):
        created = await http.post(
            f"{tenant.base}/Users",
            json={"userName": f"s{n}@big.test", "addresses": addresses},
            headers=tenant.headers(),
            params={"attributes": "userName"},
        )
        assert created.status == 201, await created.text()
    search = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName ew "@big.test"',
        "count": 100,
    }
    for path in ("/Users/.search", "/.search"):
        response = await http.post(f"{tenant.base}{path}", json=search, headers=tenant.headers())
        page = await _json(response)
        assert (page["totalResults"], page["itemsPerPage"]) == (100, 100), path
        assert {u["userName"] for u in page["Resources"]} == {f"s{n}@big.test" for n in range(100)}
