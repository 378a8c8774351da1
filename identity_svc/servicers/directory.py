"""Directory RPCs for GraphOS services: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg
import grpc

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc import convert
from identity_svc.services import directory, users

if TYPE_CHECKING:
    Ctx = grpc.aio.ServicerContext[Any, Any]


class DirectoryServicer(pb_grpc.DirectoryServicer):
    def __init__(self, pool: asyncpg.Pool, max_page_size: int) -> None:
        self._pool = pool
        self._max_page_size = max_page_size

    async def GetMember(self, request: pb.GetMemberRequest, context: Ctx) -> pb.OrgMember:
        key = request.WhichOneof("key")
        value = getattr(request, key) if key else ""
        user = await directory.get_member(
            self._pool, request.org_id, key, value, request.include_groups
        )
        return convert.org_member_to_proto(user)

    async def BatchGetMembers(
        self, request: pb.BatchGetMembersRequest, context: Ctx
    ) -> pb.BatchGetMembersResponse:
        found, not_found = await directory.batch_get_members(
            self._pool,
            request.org_id,
            list(request.user_ids),
            request.include_groups,
            self._max_page_size,
        )
        return pb.BatchGetMembersResponse(
            members=[convert.org_member_to_proto(u) for u in found], not_found=not_found
        )

    async def ListMembers(
        self, request: pb.ListMembersRequest, context: Ctx
    ) -> pb.ListMembersResponse:
        page = await directory.list_members(
            self._pool, request.org_id, request, self._max_page_size
        )
        return pb.ListMembersResponse(
            total_results=page.total_results,
            members=[convert.org_member_to_proto(u) for u in page.items],
            start_index=page.start_index,
            next_cursor=page.next_cursor,
        )

    async def ListMemberGroups(
        self, request: pb.ListUserGroupsRequest, context: Ctx
    ) -> pb.ListUserGroupsResponse:
        refs = await users.list_user_groups(self._pool, request.org_id, request.user_id)
        return pb.ListUserGroupsResponse(groups=[convert.group_ref_to_proto(r) for r in refs])

    async def GetEffectiveRole(
        self, request: pb.GetEffectiveRoleRequest, context: Ctx
    ) -> pb.GetEffectiveRoleResponse:
        user = await directory.get_member(
            self._pool, request.org_id, directory.USER_ID, request.user_id, False
        )
        return pb.GetEffectiveRoleResponse(
            role=convert.role_to_proto(user.effective_role),
            suspended=not user.active,
            direct_role=convert.role_to_proto(user.direct_role),
        )
