"""ETags on /Groups (RFC 7644 §3.14, SPEC §3): If-Match and If-None-Match, over HTTP.

`meta.version` is the ETag `W/"n"`; If-Match compares ignoring `W/` and a
mismatch is 412 with nothing changed; an If-None-Match naming the current
version (or `*`) is 304 on GET and 412 on writes.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import Tenant

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WRITES = ["PUT", "PATCH", "DELETE"]


async def _create_group(http: Any, tenant: Tenant, name: str = "Eng") -> str:
    response = await http.post(
        f"{tenant.base}/Groups",
        json={"schemas": [GROUP], "displayName": name, "members": []},
        headers=tenant.headers(),
    )
    assert response.status == 201, await response.text()
    assert response.headers["ETag"] == 'W/"1"'
    return str((await response.json(content_type=None))["id"])


async def _write(http: Any, tenant: Tenant, method: str, group_id: str, **headers: str) -> Any:
    """Rename the group (PUT, PATCH) or delete it, with the given conditional headers."""
    body: dict[str, Any] | None = None
    if method == "PUT":
        body = {"schemas": [GROUP], "displayName": "Renamed", "members": []}
    elif method == "PATCH":
        body = {
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
        }
    return await http.request(
        method, f"{tenant.base}/Groups/{group_id}", json=body, headers=tenant.headers(**headers)
    )


async def _current(http: Any, tenant: Tenant, group_id: str) -> tuple[int, str | None, str | None]:
    """(status, ETag, displayName) of an unconditional GET."""
    response = await http.get(f"{tenant.base}/Groups/{group_id}", headers=tenant.headers())
    if response.status != 200:
        return response.status, None, None
    body = await response.json(content_type=None)
    assert body["meta"]["version"] == response.headers["ETag"]
    return 200, response.headers["ETag"], body["displayName"]


async def _refused(response: Any) -> None:
    assert response.status == 412, await response.text()
    body = await response.json(content_type=None)
    assert body["status"] == "412"
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def _succeeded(method: str, response: Any, version: int) -> None:
    if method == "DELETE":
        assert response.status == 204
    else:
        assert response.status == 200
        assert response.headers["ETag"] == f'W/"{version}"'


@pytest.mark.parametrize("method", WRITES)
async def test_a_stale_if_match_is_412_and_changes_nothing(http, tenant, method):
    group_id = await _create_group(http, tenant)
    for stale in ('W/"9"', '"9"', 'W/"0"', 'W/"1"x'):
        await _refused(await _write(http, tenant, method, group_id, **{"If-Match": stale}))
    assert await _current(http, tenant, group_id) == (200, 'W/"1"', "Eng")


@pytest.mark.parametrize("method", WRITES)
@pytest.mark.parametrize("tag", ['W/"1"', '"1"', "*"])
async def test_a_current_if_match_succeeds_with_or_without_the_weak_prefix(
    http, tenant, method, tag
):
    group_id = await _create_group(http, tenant)
    response = await _write(http, tenant, method, group_id, **{"If-Match": tag})
    _succeeded(method, response, 2)
    expected = (404, None, None) if method == "DELETE" else (200, 'W/"2"', "Renamed")
    assert await _current(http, tenant, group_id) == expected


async def test_if_match_follows_the_version_as_it_moves(http, tenant):
    group_id = await _create_group(http, tenant)
    _succeeded("PATCH", await _write(http, tenant, "PATCH", group_id, **{"If-Match": '"1"'}), 2)
    _succeeded("PUT", await _write(http, tenant, "PUT", group_id, **{"If-Match": 'W/"2"'}), 2)
    # The PUT renamed to the name it already had: no change, no new version.
    await _refused(await _write(http, tenant, "DELETE", group_id, **{"If-Match": 'W/"1"'}))
    _succeeded("DELETE", await _write(http, tenant, "DELETE", group_id, **{"If-Match": '"2"'}), 0)
    assert (await _current(http, tenant, group_id))[0] == 404


@pytest.mark.parametrize("method", WRITES)
@pytest.mark.parametrize("tag", ['W/"1"', '"1"', "*", 'W/"7", W/"1"'])
async def test_if_none_match_on_the_current_version_refuses_writes(http, tenant, method, tag):
    group_id = await _create_group(http, tenant)
    await _refused(await _write(http, tenant, method, group_id, **{"If-None-Match": tag}))
    assert await _current(http, tenant, group_id) == (200, 'W/"1"', "Eng")


@pytest.mark.parametrize("method", WRITES)
async def test_if_none_match_on_another_version_lets_writes_through(http, tenant, method):
    group_id = await _create_group(http, tenant)
    response = await _write(http, tenant, method, group_id, **{"If-None-Match": 'W/"9"'})
    _succeeded(method, response, 2)


@pytest.mark.parametrize("tag", ['W/"1"', '"1"', "*"])
async def test_if_none_match_on_the_current_version_is_304_on_get(http, tenant, tag):
    group_id = await _create_group(http, tenant)
    url = f"{tenant.base}/Groups/{group_id}"
    response = await http.get(url, headers=tenant.headers(**{"If-None-Match": tag}))
    assert response.status == 304
    assert response.headers["ETag"] == 'W/"1"'
    assert await response.read() == b""
    fresh = await http.get(url, headers=tenant.headers(**{"If-None-Match": 'W/"9"'}))
    assert fresh.status == 200
    assert (await fresh.json(content_type=None))["displayName"] == "Eng"


@pytest.mark.parametrize("method", WRITES)
async def test_an_if_match_list_naming_the_current_version_matches(http, tenant, method):
    # RFC 7232 §3.1: If-Match holds if any of its entity tags matches.
    group_id = await _create_group(http, tenant)
    response = await _write(http, tenant, method, group_id, **{"If-Match": 'W/"7", W/"1"'})
    assert response.status in (200, 204), await response.text()
    status, _, name = await _current(http, tenant, group_id)
    assert (status, name) == ((404, None) if method == "DELETE" else (200, "Renamed"))


@pytest.mark.parametrize("method", WRITES)
async def test_an_if_match_list_naming_other_versions_is_412_and_changes_nothing(
    http, tenant, method
):
    group_id = await _create_group(http, tenant)
    await _refused(await _write(http, tenant, method, group_id, **{"If-Match": 'W/"7", "8"'}))
    assert await _current(http, tenant, group_id) == (200, 'W/"1"', "Eng")


async def test_an_if_match_list_on_a_user_write_matches_any_of_its_tags(http, tenant):
    created = await http.post(
        f"{tenant.base}/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "m@x.test"},
        headers=tenant.headers(),
    )
    user_id = (await created.json(content_type=None))["id"]
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "T"}]}
    url = f"{tenant.base}/Users/{user_id}"
    stale = await http.patch(url, json=body, headers=tenant.headers(**{"If-Match": 'W/"5", W/"6"'}))
    await _refused(stale)
    fresh = await http.patch(url, json=body, headers=tenant.headers(**{"If-Match": 'W/"5", W/"1"'}))
    assert fresh.status == 200, await fresh.text()
    assert fresh.headers["ETag"] == 'W/"2"'
