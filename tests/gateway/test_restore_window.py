"""Issue 10's restore window over HTTP → gRPC → SQL: Entra deletes, an Org Admin restores.

A SCIM DELETE takes the member out of every SCIM view at once; the restore
brings back the very resource, in its groups, with its role.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.gateway.conftest import ADMIN, Tenant

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
AS_ADMIN = pb.RequestContext(actor=pb.Actor(admin_email=ADMIN))


async def _send(
    http, method: str, url: str, tenant: Tenant, body: dict[str, Any] | None, status: int
) -> Any:
    response = await http.request(method, url, json=body, headers=tenant.headers())
    assert response.status == status, await response.text()
    return await response.json(content_type=None) if response.status != 204 else None


async def _get(http, url: str, tenant: Tenant, status: int = 200) -> Any:
    return await _send(http, "GET", url, tenant, None, status)


async def test_deleted_through_scim_then_restored(http, tenant, operator_channel, service_channel):
    admin = pb_grpc.OrgAdminStub(operator_channel)
    directory = pb_grpc.DirectoryStub(service_channel)
    user = await _send(
        http,
        "POST",
        f"{tenant.base}/Users",
        tenant,
        {
            "schemas": [USER],
            "userName": "ada@acme.test",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"primary": True, "value": "ada@acme.test", "type": "work"}],
            "title": "Countess",
        },
        201,
    )
    url = f"{tenant.base}/Users/{user['id']}"
    members = [{"value": user["id"]}]
    group = await _send(
        http,
        "POST",
        f"{tenant.base}/Groups",
        tenant,
        {"schemas": [GROUP], "displayName": "GraphOS Admins", "members": members},
        201,
    )
    await admin.SetRoleRule(
        pb.SetRoleRuleRequest(
            context=AS_ADMIN, org_id=tenant.org, group_id=group["id"], role=pb.GRAPH_ADMIN
        )
    )
    before = await _get(http, url, tenant)
    assert [g["value"] for g in before["groups"]] == [group["id"]]
    total = (await _get(http, f"{tenant.base}/Users?count=0", tenant))["totalResults"]

    # Entra hard-deletes.
    await _send(http, "DELETE", url, tenant, None, 204)

    gone = await _get(http, url, tenant, 404)
    assert (gone["status"], gone["schemas"]) == (
        "404",
        ["urn:ietf:params:scim:api:messages:2.0:Error"],
    )
    listed = await _get(http, f'{tenant.base}/Users?filter=userName eq "ada@acme.test"', tenant)
    assert listed["totalResults"] == 0
    assert (await _get(http, f"{tenant.base}/Users?count=0", tenant))["totalResults"] == total - 1
    in_group = await _get(http, f"{tenant.base}/Groups/{group['id']}", tenant)
    assert in_group.get("members", []) == []
    with pytest.raises(grpc.aio.AioRpcError) as no_role:
        await directory.GetEffectiveRole(
            pb.GetEffectiveRoleRequest(org_id=tenant.org, user_id=user["id"])
        )
    assert no_role.value.code() is grpc.StatusCode.NOT_FOUND

    await admin.RestoreMember(
        pb.RestoreMemberRequest(context=AS_ADMIN, org_id=tenant.org, user_name="ada@acme.test")
    )

    after = await _get(http, url, tenant)
    volatile = ("meta",)
    assert {k: v for k, v in after.items() if k not in volatile} == {
        k: v for k, v in before.items() if k not in volatile
    }
    assert after["meta"]["created"] == before["meta"]["created"]
    assert after["meta"]["version"] != before["meta"]["version"]
    in_group = await _get(http, f"{tenant.base}/Groups/{group['id']}", tenant)
    assert [m["value"] for m in in_group["members"]] == [user["id"]]
    role = await directory.GetEffectiveRole(
        pb.GetEffectiveRoleRequest(org_id=tenant.org, user_id=user["id"])
    )
    assert role.role == pb.GRAPH_ADMIN
    listed = await _get(http, f'{tenant.base}/Users?filter=userName eq "ada@acme.test"', tenant)
    assert [r["id"] for r in listed["Resources"]] == [user["id"]]
    assert (await _get(http, f"{tenant.base}/Users?count=0", tenant))["totalResults"] == total
