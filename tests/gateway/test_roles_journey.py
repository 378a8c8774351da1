"""SPEC §1's journey: roles arrive from Okta-pushed groups, over HTTP → gRPC → SQL."""

from __future__ import annotations

from typing import Any

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.gateway.conftest import ADMIN, Tenant

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def _send(
    http, method: str, url: str, tenant: Tenant, body: dict[str, Any], status: int
) -> dict[str, Any]:
    response = await http.request(method, url, json=body, headers=tenant.headers())
    assert response.status == status, await response.text()
    return await response.json(content_type=None)


async def test_okta_group_mapped_to_graph_admin_then_deactivation(
    http, tenant, operator_channel, service_channel
):
    admin = pb_grpc.OrgAdminStub(operator_channel)
    directory = pb_grpc.DirectoryStub(service_channel)
    # Okta: Push Groups.
    group = await _send(
        http,
        "POST",
        f"{tenant.base}/Groups",
        tenant,
        {"schemas": [GROUP], "displayName": "GraphOS Admins", "members": []},
        201,
    )
    # The org admin maps the pushed group to GRAPH_ADMIN.
    await admin.SetRoleRule(
        pb.SetRoleRuleRequest(
            context=pb.RequestContext(actor=pb.Actor(admin_email=ADMIN)),
            org_id=tenant.org,
            group_display_name="graphos admins",
            role=pb.GRAPH_ADMIN,
        )
    )
    # Okta: Create User, then add it to the group (resending the displayName).
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
            "groups": [],
            "active": True,
        },
        201,
    )
    role = pb.GetEffectiveRoleRequest(org_id=tenant.org, user_id=user["id"])
    assert (await directory.GetEffectiveRole(role)).role == pb.ROLE_UNSPECIFIED
    operations = [
        {"op": "replace", "value": {"id": group["id"], "displayName": "GraphOS Admins"}},
        {"op": "add", "path": "members", "value": [{"value": user["id"], "display": "Ada"}]},
    ]
    await _send(
        http,
        "PATCH",
        f"{tenant.base}/Groups/{group['id']}",
        tenant,
        {"schemas": [PATCH], "Operations": operations},
        200,
    )
    granted = await directory.GetEffectiveRole(role)
    assert (granted.role, granted.suspended) == (pb.GRAPH_ADMIN, False)

    # Okta: Deactivate Users.
    await _send(
        http,
        "PATCH",
        f"{tenant.base}/Users/{user['id']}",
        tenant,
        {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
        200,
    )
    revoked = await directory.GetEffectiveRole(role)
    assert (revoked.role, revoked.suspended) == (pb.ROLE_UNSPECIFIED, True)
