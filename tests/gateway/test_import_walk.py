"""Okta's import walk and RFC 9865 cursors, over HTTP → gRPC → SQL (SPEC §3 lists).

"Every user exactly once" means: a walk (startIndex=1, then each next
startIndex = previous + count, same filter) returns every user that exists
from its first request to its last on exactly one page, and any other user at
most once, whatever is deleted or created meanwhile.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.gateway.conftest import ADMIN, Tenant
from tests.gateway.test_list_totals import delete_resource, get_json, run_bulk
from tests.gateway.test_protocol import create_user, user_body


async def _create_many(http, tenant: Tenant, names: list[str]) -> dict[str, str]:
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": user_body(name)}
        for i, name in enumerate(names)
    ]
    done = await run_bulk(http, tenant, operations)
    assert {o["status"] for o in done} == {"201"}
    return {name: o["location"].rsplit("/", 1)[1] for name, o in zip(names, done, strict=True)}


async def test_an_import_walk_sees_every_user_once_while_others_are_deleted(http, tenant):
    # 300 users that stay, and 15 among them that Entra deletes and recreates
    # while Okta walks: each deletion lies before the walk's position, where
    # it would shift an OFFSET walk past one user that never changed.
    names: list[str] = []
    for i in range(300):
        names.append(f"stay{i:03d}@walk.test")
        if i % 20 == 10:
            names.append(f"churn{i // 20:02d}@walk.test")
    ids = await _create_many(http, tenant, names)
    admin = (await get_json(http, tenant, "Users", filter=f'userName eq "{ADMIN}"'))["Resources"]
    stayed = {ids[n] for n in names if n.startswith("stay")} | {admin[0]["id"]}
    churn = [n for n in names if n.startswith("churn")]
    recreated: list[str] = []
    seen: list[str] = []
    start = 1
    while True:
        page = await get_json(http, tenant, "Users", startIndex=start, count=20)
        assert page["startIndex"] == start
        assert page["totalResults"] == 316  # delete + create between pages
        seen += [r["id"] for r in page["Resources"]]
        if page["itemsPerPage"] < 20:
            break
        start += 20
        passed = [n for n in churn if ids[n] in seen]
        if passed:  # between two pages: delete one user already read, create it anew
            name = passed[0]
            churn.remove(name)
            assert await delete_resource(http, tenant, "Users", ids[name]) == 204
            recreated.append((await create_user(http, tenant, name))["id"])
    assert len(recreated) == 15
    times = Counter(seen)
    assert {id_: times[id_] for id_ in stayed} == dict.fromkeys(stayed, 1)
    assert max(times.values()) == 1
    # Created during the walk, but before it reached the end of the order.
    assert set(recreated) <= set(seen)


async def _cursor_page(http, tenant: Tenant, cursor: str, **params: Any) -> dict[str, Any]:
    return await get_json(http, tenant, "Users", cursor=cursor, count=3, **params)


async def _walk_forward_then_back(http, tenant: Tenant, **params: Any) -> None:
    forward: list[list[str]] = []
    page = await _cursor_page(http, tenant, "", **params)
    assert "previousCursor" not in page
    while True:
        forward.append([r["userName"] for r in page["Resources"]])
        if "nextCursor" not in page:
            break
        page = await _cursor_page(http, tenant, page["nextCursor"], **params)
    assert [len(p) for p in forward] == [3, 3, 2]
    backward = [forward[-1]]
    while "previousCursor" in page:
        page = await _cursor_page(http, tenant, page["previousCursor"], **params)
        backward.append([r["userName"] for r in page["Resources"]])
    assert backward == forward[::-1]
    # Forward again from the first page reached backward.
    again = await _cursor_page(http, tenant, page["nextCursor"], **params)
    assert [r["userName"] for r in again["Resources"]] == forward[1]


async def test_previous_cursor_walks_back(http, tenant):
    for name in ("e", "b", "g", "a", "f", "c", "d"):
        await create_user(http, tenant, f"{name}@acme.test")
    await _walk_forward_then_back(http, tenant)
    await _walk_forward_then_back(http, tenant, sortBy="userName")
