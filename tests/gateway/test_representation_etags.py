"""ETags move with the representation they describe (RFC 7232 §2.3, issue #9 item 10).

A user's resource shows its `groups` (ids and displayNames) and a group's its
`members[].display`: a change to those is a new version, so `If-None-Match`
with the old tag never answers 304 with stale data. And the one lock order
(groups, then users) keeps a user DELETE racing a group PATCH from deadlocking.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prometheus_client import REGISTRY

from tests.gateway.conftest import Tenant

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def _create(http: Any, tenant: Tenant, kind: str, body: dict[str, Any]) -> str:
    response = await http.post(f"{tenant.base}/{kind}", json=body, headers=tenant.headers())
    assert response.status == 201, await response.text()
    return str((await response.json(content_type=None))["id"])


async def _user(http: Any, tenant: Tenant, name: str, display: str | None = None) -> str:
    body: dict[str, Any] = {"schemas": [USER], "userName": name}
    if display:
        body["displayName"] = display
    return await _create(http, tenant, "Users", body)


async def _group(http: Any, tenant: Tenant, name: str, members: list[str] = []) -> str:  # noqa: B006
    body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]}
    return await _create(http, tenant, "Groups", body)


async def _patch(http: Any, tenant: Tenant, path: str, *operations: dict[str, Any]) -> None:
    body = {"schemas": [PATCH], "Operations": list(operations)}
    response = await http.patch(f"{tenant.base}/{path}", json=body, headers=tenant.headers())
    assert response.status in (200, 204), await response.text()


async def _read(http: Any, tenant: Tenant, path: str) -> tuple[str, dict[str, Any]]:
    response = await http.get(f"{tenant.base}/{path}", headers=tenant.headers())
    assert response.status == 200, await response.text()
    body = await response.json(content_type=None)
    assert body["meta"]["version"] == response.headers["ETag"]
    return response.headers["ETag"], body


async def _fresh_after(http: Any, tenant: Tenant, path: str, old_tag: str) -> dict[str, Any]:
    """The resource as `If-None-Match: old_tag` answers it: 200, never a stale 304."""
    response = await http.get(
        f"{tenant.base}/{path}", headers=tenant.headers(**{"If-None-Match": old_tag})
    )
    assert response.status == 200, f"{path}: 304 with a changed representation"
    assert response.headers["ETag"] != old_tag
    return dict(await response.json(content_type=None))


def _group_names(user: dict[str, Any]) -> list[str]:
    return sorted(g["display"] for g in user.get("groups", []))


async def test_joining_and_leaving_a_group_is_a_new_version_of_the_user(http, tenant):
    user = await _user(http, tenant, "joiner@acme.test")
    group = await _group(http, tenant, "Engineering")
    tag, before = await _read(http, tenant, f"Users/{user}")
    assert _group_names(before) == []

    await _patch(
        http,
        tenant,
        f"Groups/{group}",
        {"op": "add", "path": "members", "value": [{"value": user}]},
    )
    joined = await _fresh_after(http, tenant, f"Users/{user}", tag)
    assert _group_names(joined) == ["Engineering"]
    assert joined["meta"]["lastModified"] >= before["meta"]["lastModified"]

    await _patch(
        http, tenant, f"Groups/{group}", {"op": "remove", "path": f'members[value eq "{user}"]'}
    )
    left = await _fresh_after(http, tenant, f"Users/{user}", joined["meta"]["version"])
    assert _group_names(left) == []


async def test_a_group_created_with_the_user_is_a_new_version_of_the_user(http, tenant):
    user = await _user(http, tenant, "founder@acme.test")
    tag, _ = await _read(http, tenant, f"Users/{user}")
    await _group(http, tenant, "Founders", [user])
    assert _group_names(await _fresh_after(http, tenant, f"Users/{user}", tag)) == ["Founders"]


async def test_renaming_or_deleting_a_group_is_a_new_version_of_its_members(http, tenant):
    member, outsider = (
        await _user(http, tenant, "in@acme.test"),
        await _user(http, tenant, "out@acme.test"),
    )
    group = await _group(http, tenant, "Sales", [member])
    member_tag, _ = await _read(http, tenant, f"Users/{member}")
    outsider_tag, _ = await _read(http, tenant, f"Users/{outsider}")

    await _patch(
        http,
        tenant,
        f"Groups/{group}",
        {"op": "replace", "path": "displayName", "value": "Revenue"},
    )
    renamed = await _fresh_after(http, tenant, f"Users/{member}", member_tag)
    assert _group_names(renamed) == ["Revenue"]
    # Who does not show the group keeps its version.
    assert (await _read(http, tenant, f"Users/{outsider}"))[0] == outsider_tag

    response = await http.delete(f"{tenant.base}/Groups/{group}", headers=tenant.headers())
    assert response.status == 204
    gone = await _fresh_after(http, tenant, f"Users/{member}", renamed["meta"]["version"])
    assert _group_names(gone) == []


async def test_a_member_renamed_is_a_new_version_of_each_of_its_groups(http, tenant):
    member = await _user(http, tenant, "renamed@acme.test", "Ada L.")
    other = await _group(http, tenant, "Unrelated")
    first, second = (
        await _group(http, tenant, "One", [member]),
        await _group(http, tenant, "Two", [member]),
    )
    tags = {g: (await _read(http, tenant, f"Groups/{g}"))[0] for g in (first, second, other)}

    await _patch(
        http,
        tenant,
        f"Users/{member}",
        {"op": "replace", "path": "displayName", "value": "Ada Lovelace"},
    )
    for group in (first, second):
        shown = await _fresh_after(http, tenant, f"Groups/{group}", tags[group])
        assert [m["display"] for m in shown["members"]] == ["Ada Lovelace"]
    assert (await _read(http, tenant, f"Groups/{other}"))[0] == tags[other]

    # A change the groups do not show (the member's title) leaves their versions.
    current = (await _read(http, tenant, f"Groups/{first}"))[0]
    await _patch(
        http, tenant, f"Users/{member}", {"op": "replace", "path": "title", "value": "Countess"}
    )
    assert (await _read(http, tenant, f"Groups/{first}"))[0] == current


def _deadlocks() -> float:
    return (
        REGISTRY.get_sample_value("identity_transaction_retries_total", {"reason": "deadlock"})
        or 0.0
    )


async def test_user_deletes_racing_group_patches_never_deadlock(http, tenant):
    """Okta's deprovisioning: it removes a member from its groups while deleting it."""
    users = [await _user(http, tenant, f"leaver{i}@acme.test") for i in range(12)]
    groups = [await _group(http, tenant, f"Team {i}", users) for i in range(3)]
    before = _deadlocks()

    async def remove_from(group: str, user: str) -> int:
        body = {
            "schemas": [PATCH],
            "Operations": [{"op": "remove", "path": f'members[value eq "{user}"]'}],
        }
        response = await http.patch(
            f"{tenant.base}/Groups/{group}", json=body, headers=tenant.headers()
        )
        return int(response.status)

    async def delete(user: str) -> int:
        response = await http.delete(f"{tenant.base}/Users/{user}", headers=tenant.headers())
        return int(response.status)

    for user in users:
        statuses = await asyncio.gather(delete(user), *(remove_from(g, user) for g in groups))
        assert statuses[0] == 204
        assert set(statuses[1:]) <= {200, 204}, statuses

    assert _deadlocks() == before, "a user DELETE and a group PATCH deadlocked"
    for group in groups:
        _, body = await _read(http, tenant, f"Groups/{group}")
        assert body.get("members", []) == []
