"""Builders for the role and directory tests: users, groups, rules, roles."""

from __future__ import annotations

from typing import Any

import asyncpg

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.identity_svc.support import GATEWAY, OPERATOR, path, struct, user_doc, value

ADD, REMOVE, REPLACE = pb.PatchOperation.ADD, pb.PatchOperation.REMOVE, pb.PatchOperation.REPLACE


async def new_user(
    prov: pb_grpc.ProvisioningAsyncStub, org: str, user_name: str, **extra: Any
) -> str:
    user = await prov.CreateUser(
        pb.CreateUserRequest(
            context=GATEWAY, org_id=org, attributes=struct(user_doc(user_name, **extra))
        )
    )
    return str(user.id)


async def new_group(
    prov: pb_grpc.ProvisioningAsyncStub, org: str, name: str, *member_ids: str
) -> str:
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(
            context=GATEWAY, org_id=org, display_name=name, member_ids=list(member_ids)
        )
    )
    return str(group.id)


async def patch_group(
    prov: pb_grpc.ProvisioningAsyncStub, org: str, group_id: str, *ops: pb.PatchOperation
) -> pb.Group:
    return await prov.PatchGroup(
        pb.PatchGroupRequest(context=GATEWAY, org_id=org, group_id=group_id, operations=ops)
    )


def add_members(*user_ids: str) -> pb.PatchOperation:
    return pb.PatchOperation(
        op=ADD, path=path("members"), value=value([{"value": u} for u in user_ids])
    )


def remove_members(*user_ids: str) -> pb.PatchOperation:
    return pb.PatchOperation(
        op=REMOVE, path=path("members"), value=value([{"value": u} for u in user_ids])
    )


def rename(display_name: str) -> pb.PatchOperation:
    return pb.PatchOperation(op=REPLACE, path=path("displayName"), value=value(display_name))


async def set_active(
    prov: pb_grpc.ProvisioningAsyncStub, org: str, user_id: str, active: bool
) -> pb.User:
    operation = pb.PatchOperation(op=REPLACE, value=value({"active": active}))
    return await prov.PatchUser(
        pb.PatchUserRequest(context=GATEWAY, org_id=org, user_id=user_id, operations=[operation])
    )


async def set_rule(
    admin: pb_grpc.OrgAdminAsyncStub,
    org: str,
    role: str,
    *,
    group_id: str = "",
    name: str = "",
    context: pb.RequestContext = OPERATOR,
) -> pb.RoleRule:
    request = pb.SetRoleRuleRequest(context=context, org_id=org, role=pb.Role.Value(role))
    if group_id:
        request.group_id = group_id
    else:
        request.group_display_name = name
    return await admin.SetRoleRule(request)


async def role_of(directory: pb_grpc.DirectoryAsyncStub, org: str, user_id: str) -> str | None:
    """The member's effective role by name, None when it has none."""
    answer = await directory.GetEffectiveRole(
        pb.GetEffectiveRoleRequest(org_id=org, user_id=user_id)
    )
    return pb.Role.Name(answer.role) if answer.role else None


async def role_events(db_pool: asyncpg.Pool, org: str) -> list[tuple[str, str | None, str | None]]:
    """(user id, from, to) of every user.role_changed event of the org, in order."""
    rows = await db_pool.fetch(
        "SELECT resource_id, data FROM events WHERE org_id = $1 AND type = 'user.role_changed'"
        " ORDER BY seq",
        org,
    )
    return [(r["resource_id"], r["data"]["from"], r["data"]["to"]) for r in rows]
