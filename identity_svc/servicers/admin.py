"""OrgAdmin RPCs: protobuf in, domain calls, protobuf out; no SQL, no status codes."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc import convert
from identity_svc.servicers.context import request_id, writer
from identity_svc.services import (
    brake,
    console_links,
    deleted_users,
    keys,
    orgs,
    request_log,
    roles,
    users,
)

if TYPE_CHECKING:
    Ctx = grpc.aio.ServicerContext[Any, Any]


class OrgAdminServicer(pb_grpc.OrgAdminServicer):
    def __init__(self, pool: asyncpg.Pool, restore_window: timedelta) -> None:
        self._pool = pool
        self._restore_window = restore_window

    async def CreateOrg(self, request: pb.CreateOrgRequest, context: Ctx) -> pb.Org:
        org = await orgs.create_org(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.name,
            request.admin_email,
            request.sso_configured,
            convert.member_name_from_proto(request.admin_name)
            if request.HasField("admin_name")
            else None,
        )
        return convert.org_to_proto(org)

    async def GetOrg(self, request: pb.GetOrgRequest, context: Ctx) -> pb.Org:
        return convert.org_to_proto(await orgs.get_org(self._pool, request.org_id))

    async def SetOrgSso(self, request: pb.SetOrgSsoRequest, context: Ctx) -> pb.Org:
        org = await orgs.set_sso(
            self._pool, writer(request.context, context), request.org_id, request.sso_configured
        )
        return convert.org_to_proto(org)

    async def SetDirectRole(
        self, request: pb.SetDirectRoleRequest, context: Ctx
    ) -> pb.SetDirectRoleResponse:
        user = await orgs.set_direct_role(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.user_name,
            convert.role_from_proto(request.role),
        )
        return pb.SetDirectRoleResponse(user=convert.user_to_proto(user))

    async def SetMemberName(
        self, request: pb.SetMemberNameRequest, context: Ctx
    ) -> pb.SetMemberNameResponse:
        user = await users.set_member_name(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.user_name,
            convert.member_name_from_proto(request.name),
        )
        return pb.SetMemberNameResponse(user=convert.user_to_proto(user))

    async def CreateScimKey(
        self, request: pb.CreateScimKeyRequest, context: Ctx
    ) -> pb.CreateScimKeyResponse:
        key, token = await keys.create_key(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.name,
            request.expires_in_seconds,
        )
        return pb.CreateScimKeyResponse(key=convert.key_to_proto(key), token=token)

    async def ListScimKeys(
        self, request: pb.ListScimKeysRequest, context: Ctx
    ) -> pb.ListScimKeysResponse:
        actor = writer(request.context, context).actor
        found = await keys.list_keys(self._pool, request.org_id, actor)
        return pb.ListScimKeysResponse(keys=[convert.key_to_proto(k) for k in found])

    async def RevokeScimKey(self, request: pb.RevokeScimKeyRequest, context: Ctx) -> pb.ScimKey:
        key = await keys.revoke_key(
            self._pool, writer(request.context, context), request.org_id, request.key_id
        )
        return convert.key_to_proto(key)

    async def SetRoleRule(self, request: pb.SetRoleRuleRequest, context: Ctx) -> pb.RoleRule:
        rule = await roles.set_role_rule(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.group_id,
            request.group_display_name,
            convert.role_from_proto(request.role),
        )
        return convert.role_rule_to_proto(rule)

    async def ListRoleRules(
        self, request: pb.ListRoleRulesRequest, context: Ctx
    ) -> pb.ListRoleRulesResponse:
        actor = writer(request.context, context).actor
        rules, default_role = await roles.list_role_rules(self._pool, request.org_id, actor)
        return pb.ListRoleRulesResponse(
            rules=[convert.role_rule_to_proto(r) for r in rules],
            default_role=convert.role_to_proto(default_role),
        )

    async def DeleteRoleRule(
        self, request: pb.DeleteRoleRuleRequest, context: Ctx
    ) -> pb.DeleteResponse:
        await roles.delete_role_rule(
            self._pool, writer(request.context, context), request.org_id, request.rule_id
        )
        return pb.DeleteResponse()

    async def SetDefaultRole(self, request: pb.SetDefaultRoleRequest, context: Ctx) -> pb.Org:
        org = await roles.set_default_role(
            self._pool,
            writer(request.context, context),
            request.org_id,
            convert.role_from_proto(request.role),
        )
        return convert.org_to_proto(org)

    async def GetDeprovisioningBrake(
        self, request: pb.GetDeprovisioningBrakeRequest, context: Ctx
    ) -> pb.DeprovisioningBrake:
        actor = writer(request.context, context).actor
        status = await brake.brake_status(self._pool, request.org_id, actor)
        return convert.brake_to_proto(request.org_id, status)

    async def SetDeprovisioningBrake(
        self, request: pb.SetDeprovisioningBrakeRequest, context: Ctx
    ) -> pb.DeprovisioningBrake:
        changes: brake.BrakeChanges = {}
        if request.HasField("enabled"):
            changes["enabled"] = request.enabled
        if request.HasField("floor"):
            changes["floor"] = request.floor
        if request.HasField("share_percent"):
            changes["share_percent"] = request.share_percent
        if request.HasField("window_seconds"):
            changes["window"] = timedelta(seconds=request.window_seconds)
        status = await brake.configure_brake(
            self._pool, writer(request.context, context), request.org_id, changes
        )
        return convert.brake_to_proto(request.org_id, status)

    async def ReleaseDeprovisioningBrake(
        self, request: pb.ReleaseDeprovisioningBrakeRequest, context: Ctx
    ) -> pb.DeprovisioningBrake:
        off_for = timedelta(seconds=request.off_for_seconds) if request.off_for_seconds else None
        status = await brake.release_brake(
            self._pool, writer(request.context, context), request.org_id, request.allow, off_for
        )
        return convert.brake_to_proto(request.org_id, status)

    async def RestoreMember(
        self, request: pb.RestoreMemberRequest, context: Ctx
    ) -> pb.RestoreMemberResponse:
        user, missing = await deleted_users.restore_member(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.user_name,
            self._restore_window,
        )
        return pb.RestoreMemberResponse(user=convert.user_to_proto(user), missing_group_ids=missing)

    async def ListDeletedMembers(
        self, request: pb.ListDeletedMembersRequest, context: Ctx
    ) -> pb.ListDeletedMembersResponse:
        found, next_token = await deleted_users.list_deleted_members(
            self._pool,
            request.org_id,
            writer(request.context, context).actor,
            self._restore_window,
            request.page_size,
            request.page_token,
        )
        members = [convert.deleted_member_to_proto(d, self._restore_window) for d in found]
        return pb.ListDeletedMembersResponse(members=members, next_page_token=next_token)

    async def ListRequests(
        self, request: pb.ListRequestsRequest, context: Ctx
    ) -> pb.ListRequestsResponse:
        query = request_log.request_query(
            request.org_id,
            outcome=request.outcome,
            method=request.method,
            resource=request.resource,
            idp=request.idp,
            count=request.count,
            cursor=request.cursor,
        )
        actor = writer(request.context, context).actor
        entries, next_cursor = await request_log.list_requests(self._pool, actor, query)
        return pb.ListRequestsResponse(
            entries=[convert.request_entry_to_proto(e) for e in entries], next_cursor=next_cursor
        )

    async def GetRequestStats(
        self, request: pb.GetRequestStatsRequest, context: Ctx
    ) -> pb.RequestStats:
        actor = writer(request.context, context).actor
        stats = await request_log.request_stats(self._pool, actor, request.org_id)
        return convert.request_stats_to_proto(stats)

    async def CreateConsoleLink(
        self, request: pb.CreateConsoleLinkRequest, context: Ctx
    ) -> pb.CreateConsoleLinkResponse:
        token, expires = await console_links.create_link(
            self._pool, writer(request.context, context), request.org_id, request.admin_email
        )
        return pb.CreateConsoleLinkResponse(token=token, expires=convert.timestamp(expires))

    async def RedeemConsoleLink(
        self, request: pb.RedeemConsoleLinkRequest, context: Ctx
    ) -> pb.RedeemConsoleLinkResponse:
        link = await console_links.redeem_link(self._pool, request.token, request_id(context))
        return pb.RedeemConsoleLinkResponse(org_id=link.org_id, admin_email=link.admin_email)
