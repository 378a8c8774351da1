"""Provisioning RPCs: protobuf in, domain calls, protobuf out; no SQL, no status codes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
import grpc
from google.protobuf.message import Message

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc import convert
from identity_svc.domain.errors import InvalidValue, TooMany
from identity_svc.domain.models import Group, Page
from identity_svc.servicers.context import expected, writer
from identity_svc.services import groups, keys, request_log, users

if TYPE_CHECKING:
    Ctx = grpc.aio.ServicerContext[Any, Any]


# A streamed page's chunks stay far below gRPC's 4 MiB message limit; a
# resource larger than this (at most a 1 MiB user, or a group of at most
# SCIM_GROUP_MEMBERS_INLINE_MAX members) travels alone.
CHUNK_BYTES = 1 << 20

MessageT = TypeVar("MessageT", bound=Message)


def _batches(messages: Iterable[MessageT]) -> Iterator[list[MessageT]]:
    """`messages` in order, grouped into lists of about CHUNK_BYTES; always one at least."""
    batch: list[MessageT] = []
    size = 0
    for message in messages:
        if batch and size + message.ByteSize() > CHUNK_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += message.ByteSize()
    yield batch


def _page_head(page: Page[Any]) -> pb.PageHead:
    return pb.PageHead(
        total_results=page.total_results,
        start_index=page.start_index,
        next_cursor=page.next_cursor,
        previous_cursor=page.previous_cursor,
        items=len(page.items),
    )


class ProvisioningServicer(pb_grpc.ProvisioningServicer):
    def __init__(self, pool: asyncpg.Pool, max_page_size: int) -> None:
        self._pool = pool
        self._max_page_size = max_page_size

    async def VerifyScimKey(
        self, request: pb.VerifyScimKeyRequest, context: Ctx
    ) -> pb.VerifyScimKeyResponse:
        key = await keys.verify_key(self._pool, request.org_id, request.token)
        if key is None:
            return pb.VerifyScimKeyResponse(valid=False)
        return pb.VerifyScimKeyResponse(valid=True, key=convert.key_to_proto(key))

    async def RecordRequests(
        self, request: pb.RecordRequestsRequest, context: Ctx
    ) -> pb.RecordRequestsResponse:
        received = datetime.now(UTC)
        entries = [convert.request_entry_from_proto(e, received) for e in request.entries]
        recorded = await request_log.record_requests(self._pool, entries)
        return pb.RecordRequestsResponse(recorded=recorded)

    # ------------------------------------------------------------ users

    async def CreateUser(self, request: pb.CreateUserRequest, context: Ctx) -> pb.User:
        user = await users.create_user(
            self._pool,
            writer(request.context, context),
            request.org_id,
            convert.attributes(request),
        )
        return convert.user_to_proto(user, request.json_document)

    async def GetUser(self, request: pb.GetUserRequest, context: Ctx) -> pb.User:
        user = await users.get_user(
            self._pool, request.org_id, request.user_id, request.include_groups
        )
        return convert.user_to_proto(user, request.json_document)

    async def ReplaceUser(self, request: pb.ReplaceUserRequest, context: Ctx) -> pb.User:
        user = await users.replace_user(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.user_id,
            convert.attributes(request),
            expected(request),
            request.include_groups,
        )
        return convert.user_to_proto(user, request.json_document)

    async def PatchUser(self, request: pb.PatchUserRequest, context: Ctx) -> pb.User:
        user = await users.patch_user(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.user_id,
            list(request.operations),
            expected(request),
            request.include_groups,
        )
        return convert.user_to_proto(user, request.json_document)

    async def DeleteUser(self, request: pb.DeleteUserRequest, context: Ctx) -> pb.DeleteResponse:
        await users.delete_user(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.user_id,
            expected(request),
        )
        return pb.DeleteResponse()

    async def ListUsers(self, request: pb.ListUsersRequest, context: Ctx) -> pb.ListUsersResponse:
        page = await users.list_users(self._pool, request.org_id, request, self._max_page_size)
        return pb.ListUsersResponse(
            total_results=page.total_results,
            users=[convert.user_to_proto(u, request.json_document) for u in page.items],
            start_index=page.start_index,
            next_cursor=page.next_cursor,
            previous_cursor=page.previous_cursor,
        )

    async def StreamUsers(
        self, request: pb.ListUsersRequest, context: Ctx
    ) -> AsyncIterator[pb.UserPageChunk]:
        page = await users.list_users(self._pool, request.org_id, request, self._max_page_size)
        head: pb.PageHead | None = _page_head(page)
        json_document = request.json_document
        for batch in _batches(convert.user_to_proto(u, json_document) for u in page.items):
            yield pb.UserPageChunk(head=head, users=batch)
            head = None

    async def ListUserGroups(
        self, request: pb.ListUserGroupsRequest, context: Ctx
    ) -> pb.ListUserGroupsResponse:
        refs = await users.list_user_groups(self._pool, request.org_id, request.user_id)
        return pb.ListUserGroupsResponse(groups=[convert.group_ref_to_proto(r) for r in refs])

    # ------------------------------------------------------------ groups

    async def CreateGroup(self, request: pb.CreateGroupRequest, context: Ctx) -> pb.Group:
        group = await groups.create_group(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.display_name,
            request.external_id or None,
            list(request.member_ids),
            convert.inclusion(request.members),
        )
        return convert.group_to_proto(group)

    async def GetGroup(self, request: pb.GetGroupRequest, context: Ctx) -> pb.Group:
        group = await groups.get_group(
            self._pool, request.org_id, request.group_id, convert.inclusion(request.members)
        )
        return convert.group_to_proto(group)

    async def ReplaceGroup(self, request: pb.ReplaceGroupRequest, context: Ctx) -> pb.Group:
        group = await groups.replace_group(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.group_id,
            request.display_name,
            request.external_id or None,
            list(request.member_ids),
            expected(request),
            convert.inclusion(request.members),
        )
        return convert.group_to_proto(group)

    async def PatchGroup(self, request: pb.PatchGroupRequest, context: Ctx) -> pb.Group:
        group = await groups.patch_group(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.group_id,
            list(request.operations),
            expected(request),
            convert.inclusion(request.members),
        )
        return convert.group_to_proto(group)

    async def DeleteGroup(self, request: pb.DeleteGroupRequest, context: Ctx) -> pb.DeleteResponse:
        await groups.delete_group(
            self._pool,
            writer(request.context, context),
            request.org_id,
            request.group_id,
            expected(request),
        )
        return pb.DeleteResponse()

    async def _list_groups(self, request: pb.ListGroupsRequest) -> Page[Group]:
        inclusion = convert.inclusion(request.members)
        return await groups.list_groups(
            self._pool, request.org_id, request, inclusion, self._max_page_size
        )

    async def ListGroups(
        self, request: pb.ListGroupsRequest, context: Ctx
    ) -> pb.ListGroupsResponse:
        page = await self._list_groups(request)
        return pb.ListGroupsResponse(
            total_results=page.total_results,
            groups=[convert.group_to_proto(g) for g in page.items],
            start_index=page.start_index,
            next_cursor=page.next_cursor,
            previous_cursor=page.previous_cursor,
        )

    async def StreamGroups(
        self, request: pb.ListGroupsRequest, context: Ctx
    ) -> AsyncIterator[pb.GroupPageChunk]:
        page = await self._list_groups(request)
        head: pb.PageHead | None = _page_head(page)
        for batch in _batches(convert.group_to_proto(g) for g in page.items):
            yield pb.GroupPageChunk(head=head, groups=batch)
            head = None

    async def ListGroupMembers(
        self, request: pb.ListGroupMembersRequest, context: Ctx
    ) -> pb.ListGroupMembersResponse:
        if request.count < 0:  # 0 already means "the server's page size"
            raise InvalidValue("count must not be negative (0 asks for the server's page size)")
        count = request.count or self._max_page_size
        if count > self._max_page_size:
            raise TooMany(f"at most {self._max_page_size} members a page")
        members = await groups.list_members(
            self._pool, request.org_id, request.group_id, request.after_user_id, count
        )
        return pb.ListGroupMembersResponse(
            members=[convert.member_to_proto(m) for m in members],
            next_after_user_id=members[-1].user_id if len(members) == count else "",
        )
