"""/Groups: thin handlers. Membership changes travel as typed PATCH operations.

Members are carried inline only for groups of at most
`group_members_inline_max` members; a GET of a larger group streams its
members page by page, so no process holds the whole list at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from gateway import errors
from gateway.handlers.common import (
    ListParams,
    base_url,
    identity,
    list_params,
    listing,
    none_match,
    org_id,
    preconditions,
    projection,
    read_object,
    resource_response,
    search_params,
    with_version,
    writer,
)
from gateway.keys import SETTINGS
from gateway.responses import REQUEST_ID, stream_json
from gateway.scim.patch import parse_patch_request
from gateway.scim.projection import Projection
from gateway.scim.resources import etag, group_location, group_resource, member_value
from identity_api.v1 import identity_pb2 as pb


def member_inclusion(
    request: web.Request, wanted: bool, limit: int | None = None
) -> pb.MemberInclusion:
    """Members inline when the answer wants them, for groups up to `limit` (the inline limit)."""
    if limit is None:
        limit = request.app[SETTINGS].group_members_inline_max
    return pb.MemberInclusion(include=wanted, max_members=limit)


def _field(body: dict[str, Any], name: str) -> Any:
    """A body attribute, by its name matched case-insensitively (RFC 7643 §2.1)."""
    for key, value in body.items():
        if key.lower() == name.lower():
            return value
    return None


def _group_fields(body: dict[str, Any]) -> tuple[str, str, list[str]]:
    """displayName, externalId and member ids of a POST/PUT body."""
    name = _field(body, "displayName")
    if not isinstance(name, str) or not name.strip():
        raise errors.InvalidValue("displayName is required and must be a non-empty string")
    external_id = _field(body, "externalId")
    if external_id is not None and not isinstance(external_id, str):
        raise errors.InvalidValue("externalId must be a string")
    members = _field(body, "members") or []
    if not isinstance(members, list):
        raise errors.InvalidValue("members must be a list")
    ids = []
    for member in members:
        if not isinstance(member, dict) or not isinstance(member.get("value"), str):
            raise errors.InvalidValue('each member needs a string "value" (a user id)')
        if str(member.get("type", "User")).lower() != "user":
            raise errors.InvalidValue("only users can be members; nested groups are not supported")
        ids.append(member["value"])
    return name, external_id or "", ids


async def _listing(request: web.Request, params: ListParams) -> web.StreamResponse:
    message = pb.ListGroupsRequest(
        org_id=org_id(request),
        filter=params.filter,
        sort=params.sort,
        page=params.page,
        members=member_inclusion(request, params.projection.wants("members")),
    )
    chunks = identity(request).stream_groups(message, request[REQUEST_ID])
    base = base_url(request)
    return await listing(
        request, params, chunks, lambda chunk: (group_resource(g, base) for g in chunk.groups)
    )


async def list_groups(request: web.Request) -> web.StreamResponse:
    return await _listing(request, list_params(request, request.query, "Groups"))


async def search_groups(request: web.Request) -> web.StreamResponse:
    return await _listing(request, await search_params(request, "Groups"))


def _group_response(
    request: web.Request, group: pb.Group, view: Projection, status: int = 200
) -> web.Response:
    base = base_url(request)
    resource = view.apply(group_resource(group, base))
    location = group_location(base, group.id)
    return resource_response(resource, group.meta.version, location, status=status)


# Operations: shared by the HTTP handlers below and by /Bulk.


async def create(request: web.Request, body: dict[str, Any]) -> pb.Group:
    name, external_id, member_ids = _group_fields(body)
    message = pb.CreateGroupRequest(
        context=writer(request),
        org_id=org_id(request),
        display_name=name,
        external_id=external_id,
        member_ids=member_ids,
        members=member_inclusion(request, projection(request).wants("members")),
    )
    return await identity(request).create_group(message, request[REQUEST_ID])


async def replace(
    request: web.Request, group_id: str, body: dict[str, Any], version: int | None
) -> pb.Group:
    name, external_id, member_ids = _group_fields(body)
    message = pb.ReplaceGroupRequest(
        context=writer(request),
        org_id=org_id(request),
        group_id=group_id,
        display_name=name,
        external_id=external_id,
        member_ids=member_ids,
        members=member_inclusion(request, projection(request).wants("members")),
    )
    return await identity(request).replace_group(
        with_version(message, version), request[REQUEST_ID]
    )


async def patch(
    request: web.Request, group_id: str, body: dict[str, Any], version: int | None
) -> pb.Group:
    message = pb.PatchGroupRequest(
        context=writer(request),
        org_id=org_id(request),
        group_id=group_id,
        operations=parse_patch_request(body, "Group"),
        members=member_inclusion(
            request,
            projection(request).wants("members"),
            request.app[SETTINGS].patch_members_inline_max,
        ),
    )
    return await identity(request).patch_group(with_version(message, version), request[REQUEST_ID])


async def delete(request: web.Request, group_id: str, version: int | None) -> None:
    message = pb.DeleteGroupRequest(
        context=writer(request), org_id=org_id(request), group_id=group_id
    )
    await identity(request).delete_group(with_version(message, version), request[REQUEST_ID])


async def create_group(request: web.Request) -> web.Response:
    group = await create(request, await read_object(request))
    return _group_response(request, group, projection(request), status=201)


async def _stream_members(
    request: web.Request, group: pb.Group, view: Projection
) -> web.StreamResponse:
    """A large group's JSON, its members written one page at a time."""
    base = base_url(request)
    resource = view.apply(group_resource(group, base))
    page_size = request.app[SETTINGS].max_page_size

    async def members() -> AsyncIterator[dict[str, str]]:
        after = ""
        while True:
            message = pb.ListGroupMembersRequest(
                org_id=group.org_id, group_id=group.id, after_user_id=after, count=page_size
            )
            page = await identity(request).list_group_members(message, request[REQUEST_ID])
            for member in page.members:
                yield member_value(member, base)
            if not page.next_after_user_id:
                return
            after = page.next_after_user_id

    headers = {"ETag": etag(group.meta.version), "Location": group_location(base, group.id)}
    return await stream_json(request, resource, "members", members(), headers)


async def get_group(request: web.Request) -> web.StreamResponse:
    view = projection(request)
    wanted = view.wants("members")
    message = pb.GetGroupRequest(
        org_id=org_id(request),
        group_id=request.match_info["id"],
        members=member_inclusion(request, wanted),
    )
    group = await identity(request).get_group(message, request[REQUEST_ID])
    if none_match(request, group.meta.version):
        return web.Response(status=304, headers={"ETag": etag(group.meta.version)})
    if wanted and not group.members_included:
        return await _stream_members(request, group, view)
    return _group_response(request, group, view)


async def _preconditions(request: web.Request) -> int | None:
    async def version() -> int:
        message = pb.GetGroupRequest(org_id=org_id(request), group_id=request.match_info["id"])
        group = await identity(request).get_group(message, request[REQUEST_ID])
        return group.meta.version

    return await preconditions(request, version)


async def replace_group(request: web.Request) -> web.Response:
    version = await _preconditions(request)
    body = await read_object(request)
    group = await replace(request, request.match_info["id"], body, version)
    return _group_response(request, group, projection(request))


def _patched_response(request: web.Request, group: pb.Group, view: Projection) -> web.Response:
    # RFC 7644 §3.5.2: a PATCH may answer 204; we do for groups too large to
    # return, so the cost of a membership change never grows with the group.
    if view.wants("members") and not group.members_included and group.member_count > 0:
        return web.Response(status=204, headers={"ETag": etag(group.meta.version)})
    return _group_response(request, group, view)


async def patch_group(request: web.Request) -> web.Response:
    version = await _preconditions(request)
    body = await read_object(request)
    group = await patch(request, request.match_info["id"], body, version)
    return _patched_response(request, group, projection(request))


async def delete_group(request: web.Request) -> web.Response:
    await delete(request, request.match_info["id"], await _preconditions(request))
    return web.Response(status=204)
