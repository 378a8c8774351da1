"""Members are read only when the answer carries them (SPEC §3, §8).

Entra reads groups with `excludedAttributes=members`: that request must not
read a single membership row, or its cost would grow with the group. The
gateway here talks to an identity service of its own whose pool records every
statement, so each test counts the statements that touch `group_members`,
and checks the positive control (without the exclusion they do) as well.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.settings import Settings as GatewaySettings
from identity_svc.server import create_server
from identity_svc.settings import Settings as IdentitySettings
from tests.conftest import IdentityServer
from tests.gateway.conftest import Tenant
from tests.query_log import QueryLog

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@dataclass(frozen=True)
class Logged:
    http: TestClient[Any, Any]
    log: QueryLog
    tenant: Tenant
    group_id: str
    member_ids: tuple[str, ...]

    def membership_reads(self) -> list[str]:
        return self.log.touching("group_members")


@pytest.fixture
async def logged(
    database_url: str,
    db_pool: asyncpg.Pool,
    identity_server: IdentityServer,
    gateway_settings: GatewaySettings,
    tenant: Tenant,
) -> AsyncIterator[Logged]:
    """A gateway on an identity service whose statements are recorded; a group of two."""
    log = QueryLog(db_pool)
    settings = IdentitySettings(
        database_url=database_url,
        operator_token=identity_server.operator_token,
        service_token=identity_server.service_token,
        max_page_size=200,
    )
    server, port = await create_server(settings, log.pool, "127.0.0.1:0", identity_server.hub)
    await server.start()
    try:
        gateway = replace(gateway_settings, identity_addr=f"127.0.0.1:{port}")
        async with TestClient(TestServer(create_app(gateway))) as http:
            ids = [await _create_user(http, tenant, f"m{i}@acme.test") for i in range(2)]
            members = [{"value": i} for i in ids]
            created = await http.post(
                f"{tenant.base}/Groups",
                json={"schemas": [GROUP], "displayName": "Eng", "members": members},
                headers=tenant.headers(),
            )
            assert created.status == 201, await created.text()
            group_id = (await created.json(content_type=None))["id"]
            yield Logged(http, log, tenant, group_id, tuple(sorted(ids)))
    finally:
        await server.stop(grace=None)


async def _create_user(http: Any, tenant: Tenant, user_name: str) -> str:
    response = await http.post(
        f"{tenant.base}/Users",
        json={"schemas": [USER], "userName": user_name, "displayName": user_name},
        headers=tenant.headers(),
    )
    assert response.status == 201, await response.text()
    return str((await response.json(content_type=None))["id"])


async def _read(logged: Logged, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """The group resource a read answers, with only its own statements recorded."""
    logged.log.clear()
    response = await logged.http.request(
        method, logged.tenant.base + path, headers=logged.tenant.headers(), **kwargs
    )
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json(content_type=None)
    if "Resources" not in body:
        return body
    groups = [r for r in body["Resources"] if r.get("id") == logged.group_id]
    assert len(groups) == 1, body
    return groups[0]


def _reads(logged: Logged) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Each way to read the group, as (method, path, request options)."""

    def search(**extra: Any) -> dict[str, Any]:
        return {"json": {"schemas": [SEARCH], **extra}}

    group = f"/Groups/{logged.group_id}"
    return {
        "get": ("GET", group, {}),
        "list": ("GET", "/Groups", {}),
        "search": ("POST", "/Groups/.search", search()),
        "get excluded": ("GET", group, {"params": {"excludedAttributes": "members"}}),
        "get attributes": ("GET", group, {"params": {"attributes": "displayName"}}),
        "list excluded": ("GET", "/Groups", {"params": {"excludedAttributes": "members"}}),
        "list filtered and excluded": (
            "GET",
            "/Groups",
            {"params": {"filter": 'displayName eq "eng"', "excludedAttributes": "members"}},
        ),
        "search excluded": ("POST", "/Groups/.search", search(excludedAttributes=["members"])),
        "search attributes": ("POST", "/Groups/.search", search(attributes="displayName,id")),
    }


INCLUDED = ["get", "list", "search"]
EXCLUDED = [
    "get excluded",
    "get attributes",
    "list excluded",
    "list filtered and excluded",
    "search excluded",
    "search attributes",
]


@pytest.mark.parametrize("how", EXCLUDED)
async def test_a_read_without_members_reads_no_membership(logged, how):
    method, path, options = _reads(logged)[how]
    group = await _read(logged, method, path, **options)
    assert group["displayName"] == "Eng"
    assert "members" not in group
    assert logged.membership_reads() == []
    assert logged.log.statements, "the log saw none of the request's statements"


@pytest.mark.parametrize("how", INCLUDED)
async def test_a_read_with_members_reads_them(logged, how):
    method, path, options = _reads(logged)[how]
    group = await _read(logged, method, path, **options)
    assert sorted(m["value"] for m in group["members"]) == list(logged.member_ids)
    assert len(logged.membership_reads()) == 1


async def test_a_create_without_members_in_the_answer_reads_no_membership(logged):
    for excluded, reads in ((True, 0), (False, 1)):
        logged.log.clear()
        params = {"excludedAttributes": "members"} if excluded else {}
        response = await logged.http.post(
            f"{logged.tenant.base}/Groups",
            params=params,
            json={"schemas": [GROUP], "displayName": f"Empty {excluded}"},
            headers=logged.tenant.headers(),
        )
        assert response.status == 201
        assert ("members" in await response.json(content_type=None)) is not excluded
        assert len(logged.membership_reads()) == reads


async def _root_search(logged: Logged, **extra: Any) -> list[dict[str, Any]]:
    logged.log.clear()
    response = await logged.http.post(
        f"{logged.tenant.base}/.search",
        json={"schemas": [SEARCH], **extra},
        headers=logged.tenant.headers(),
    )
    assert response.status == 200, await response.text()
    resources: list[dict[str, Any]] = (await response.json(content_type=None))["Resources"]
    return resources


async def test_the_root_search_carries_members_and_groups_unless_excluded(logged):
    """RFC 7643 §4: a group's members and a user's groups are returned by default."""
    found = {r["id"]: r for r in await _root_search(logged)}
    assert sorted(m["value"] for m in found[logged.group_id]["members"]) == list(logged.member_ids)
    for member in logged.member_ids:
        assert [g["value"] for g in found[member]["groups"]] == [logged.group_id]
    assert logged.membership_reads()

    lean = await _root_search(logged, excludedAttributes=["members", "groups"])
    assert logged.group_id in {r["id"] for r in lean}
    assert all("members" not in r and "groups" not in r for r in lean)
    assert logged.membership_reads() == []
