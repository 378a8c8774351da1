"""Deprovisioning is lifted only by an explicit `active: true` (issue: PUT without active).

Okta deactivates with PATCH `active: false`; a later PUT of a profile that
omits `active`, a PATCH `remove active` or a replace with null must keep the
member suspended, with no role, and the resource must always say so.
"""

from __future__ import annotations

from typing import Any

import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.gateway.conftest import Tenant
from tests.gateway.test_protocol import create_user

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


async def _suspended_user(http, tenant: Tenant) -> dict[str, Any]:
    user = await create_user(http, tenant, "grace@acme.test")
    deactivate = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    response = await http.patch(
        f"{tenant.base}/Users/{user['id']}", json=deactivate, headers=tenant.headers()
    )
    assert response.status == 200, await response.text()
    assert (await response.json(content_type=None))["active"] is False
    return user


async def _state(http, tenant: Tenant, service_channel, user_id: str) -> tuple[Any, int, bool]:
    """What the resource says, whether `active eq true` finds it, and whether it is suspended."""
    response = await http.get(f"{tenant.base}/Users/{user_id}", headers=tenant.headers())
    got = await response.json(content_type=None)
    listed = await http.get(
        f"{tenant.base}/Users",
        params={"filter": f'id eq "{user_id}" and active eq true'},
        headers=tenant.headers(),
    )
    found = (await listed.json(content_type=None))["totalResults"]
    role = await pb_grpc.DirectoryStub(service_channel).GetEffectiveRole(
        pb.GetEffectiveRoleRequest(org_id=tenant.org, user_id=user_id)
    )
    return got.get("active"), found, role.suspended


PUT_WITHOUT_ACTIVE = "put-without-active"


@pytest.mark.parametrize(
    "change",
    [
        PUT_WITHOUT_ACTIVE,
        {"op": "remove", "path": "active"},
        {"op": "replace", "path": "active", "value": None},
        {"op": "replace", "value": {"active": None}},
    ],
    ids=["put-without-active", "remove-active", "replace-path-null", "replace-value-null"],
)
async def test_an_omitted_active_keeps_the_suspension(http, tenant, service_channel, change):
    user = await _suspended_user(http, tenant)
    url = f"{tenant.base}/Users/{user['id']}"
    if change == PUT_WITHOUT_ACTIVE:
        body = {"schemas": [USER], "userName": "grace@acme.test", "displayName": "Grace H."}
        response = await http.put(url, json=body, headers=tenant.headers())
    else:
        body = {"schemas": [PATCH], "Operations": [change]}
        response = await http.patch(url, json=body, headers=tenant.headers())
    assert response.status == 200, await response.text()
    assert (await response.json(content_type=None))["active"] is False
    assert await _state(http, tenant, service_channel, user["id"]) == (False, 0, True)


async def test_an_explicit_active_true_reactivates(http, tenant, service_channel):
    user = await _suspended_user(http, tenant)
    body = {"schemas": [USER], "userName": "grace@acme.test", "active": True}
    response = await http.put(
        f"{tenant.base}/Users/{user['id']}", json=body, headers=tenant.headers()
    )
    assert response.status == 200, await response.text()
    assert await _state(http, tenant, service_channel, user["id"]) == (True, 1, False)


async def test_a_user_created_without_active_is_shown_active(http, tenant, service_channel):
    body = {"schemas": [USER], "userName": "new@acme.test"}
    response = await http.post(f"{tenant.base}/Users", json=body, headers=tenant.headers())
    assert response.status == 201, await response.text()
    created = await response.json(content_type=None)
    assert created["active"] is True
    assert await _state(http, tenant, service_channel, created["id"]) == (True, 1, False)
