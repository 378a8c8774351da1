"""Roles: group → role rules and the default role (SPEC §5)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console.errors import BadInput
from console.identity import as_admin
from console.keys import IDENTITY
from console.pages import ROLES, admin, form_text, redirect, render, role_name, when
from identity_api.v1 import identity_pb2 as pb


def rule_row(rule: pb.RoleRule) -> dict[str, Any]:
    by_id = rule.WhichOneof("group") == "group_id"
    return {
        "id": rule.id,
        "group": rule.group_id if by_id else rule.group_display_name,
        "by": "group id" if by_id else "group name",
        "role": role_name(rule.role),
        "created_by": rule.created_by,
        "created": when(rule, "created"),
    }


async def page(request: web.Request) -> web.StreamResponse:
    rules = admin(request).rules  # the gate just read them, for this admin
    return render(
        request,
        "roles.html",
        "roles",
        rules=[rule_row(r) for r in rules.rules],
        default_role=role_name(rules.default_role),
        roles=ROLES,
    )


async def _role(request: web.Request, *, optional: bool = False) -> pb.Role.ValueType:
    name = await form_text(request, "role")
    if optional and not name:
        return pb.ROLE_UNSPECIFIED
    if name not in ROLES:
        raise BadInput(f"Choose a role: {', '.join(ROLES)}.")
    return pb.Role.Value(name)


async def add_rule(request: web.Request) -> web.StreamResponse:
    who = admin(request)
    group = await form_text(request, "group")
    role = await _role(request)
    if not group:
        raise BadInput("Name the IdP group (its displayName, as pushed from the IdP).")
    identity = request.app[IDENTITY]
    await identity.call(
        identity.admin.SetRoleRule,
        pb.SetRoleRuleRequest(
            context=as_admin(who.email), org_id=who.org, group_display_name=group, role=role
        ),
    )
    return redirect(f"/o/{who.org}/roles")


async def delete_rule(request: web.Request) -> web.StreamResponse:
    who = admin(request)
    identity = request.app[IDENTITY]
    await identity.call(
        identity.admin.DeleteRoleRule,
        pb.DeleteRoleRuleRequest(
            context=as_admin(who.email), org_id=who.org, rule_id=request.match_info["rule_id"]
        ),
    )
    return redirect(f"/o/{who.org}/roles")


async def set_default(request: web.Request) -> web.StreamResponse:
    who = admin(request)
    role = await _role(request, optional=True)
    identity = request.app[IDENTITY]
    await identity.call(
        identity.admin.SetDefaultRole,
        pb.SetDefaultRoleRequest(context=as_admin(who.email), org_id=who.org, role=role),
    )
    return redirect(f"/o/{who.org}/roles")
