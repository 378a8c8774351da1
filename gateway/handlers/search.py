"""POST /.search at the org root (RFC 7644 §3.4.3): Users, then Groups.

One order walks the concatenation, Users first, then Groups, by index or by
cursor (RFC 9865, forward only). A filter that
names an attribute only one resource type has matches nothing of the other.
Users carry their groups and groups their members unless the projection
leaves them out (both are returned by default, RFC 7643 §4).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from gateway import errors
from gateway.handlers.common import (
    ListParams,
    base_url,
    identity,
    org_id,
    seal_cursor,
    search_params,
)
from gateway.handlers.groups import member_inclusion
from gateway.responses import REQUEST_ID, scim_json
from gateway.scim.resources import group_resource, list_response, user_resource
from identity_api.v1 import identity_pb2 as pb


@dataclass(frozen=True)
class _Listed:
    head: pb.PageHead
    resources: list[Any]  # pb.User or pb.Group


_Chunk = TypeVar("_Chunk", pb.UserPageChunk, pb.GroupPageChunk)


async def _listed(chunks: AsyncIterator[_Chunk], field: str) -> _Listed | None:
    """One type's page (its chunks' `field`), or None when the filter does not apply to it."""
    try:
        first = await anext(chunks)  # the filter is checked before the first chunk
    except errors.InvalidFilter:
        return None
    resources = list(getattr(first, field))
    async for chunk in chunks:
        resources += getattr(chunk, field)
    return _Listed(first.head, resources)


async def _users(request: web.Request, params: ListParams, page: pb.Page) -> _Listed | None:
    message = pb.ListUsersRequest(
        org_id=org_id(request),
        filter=params.filter,
        page=page,
        include_groups=params.projection.wants("groups"),
        json_document=True,
    )
    return await _listed(identity(request).stream_users(message, request[REQUEST_ID]), "users")


async def _groups(request: web.Request, params: ListParams, page: pb.Page) -> _Listed | None:
    message = pb.ListGroupsRequest(
        org_id=org_id(request),
        filter=params.filter,
        page=page,
        members=member_inclusion(request, params.projection.wants("members")),
    )
    return await _listed(identity(request).stream_groups(message, request[REQUEST_ID]), "groups")


def _answer(
    request: web.Request,
    params: ListParams,
    users: list[pb.User],
    groups: list[pb.Group],
    total: int,
    start_index: int | None,
    next_cursor: str = "",
) -> web.Response:
    base = base_url(request)
    resources = [params.projection.apply(user_resource(u, base)) for u in users]
    resources += [params.projection.apply(group_resource(g, base)) for g in groups]
    return scim_json(list_response(resources, total, start_index, next_cursor))


def _total(listed: _Listed | None) -> int:
    return listed.head.total_results if listed else 0


async def search_all(request: web.Request) -> web.Response:
    params = await search_params(request, ".search")
    by = _by_cursor if params.by_cursor else _by_index
    return await by(request, params)


async def _by_index(request: web.Request, params: ListParams) -> web.Response:
    index = params.page.index
    start, count = index.start_index, index.count
    users = await _users(
        request, params, pb.Page(index=pb.IndexPage(start_index=start, count=count))
    )
    found = users.resources if users else []
    groups_page = pb.IndexPage(start_index=max(1, start - _total(users)), count=count - len(found))
    groups = await _groups(request, params, pb.Page(index=groups_page))
    if users is None and groups is None:
        raise errors.InvalidFilter("the filter applies to neither Users nor Groups")
    reached_groups = groups is not None and start + len(found) > _total(users)
    listed_groups = groups.resources if groups and reached_groups else []
    return _answer(request, params, found, listed_groups, _total(users) + _total(groups), start)


# A root cursor's position: the phase it is in, then that listing's position.
_IN_USERS, _IN_GROUPS = "u", "g"


async def _by_cursor(request: web.Request, params: ListParams) -> web.Response:
    """A cursor page of Users then Groups (RFC 9865), forward only.

    No previousCursor (optional, RFC 9865 §2): a page before the first group
    would be the last users, a position no listing's cursor names.
    """
    page = params.page.cursor
    phase, position = (page.cursor[:1], page.cursor[1:]) if page.cursor else (_IN_USERS, "")
    in_users = phase == _IN_USERS
    users_cursor = pb.CursorPage(
        cursor=position if in_users else "", count=page.count if in_users else 0
    )
    users = await _users(request, params, pb.Page(cursor=users_cursor))
    found = users.resources if users else []
    more_users = users.head.next_cursor if users else ""
    remaining = 0 if more_users else page.count - len(found)
    groups_cursor = pb.CursorPage(cursor="" if in_users else position, count=remaining)
    groups = await _groups(request, params, pb.Page(cursor=groups_cursor))
    if users is None and groups is None:
        raise errors.InvalidFilter("the filter applies to neither Users nor Groups")
    listed_groups = groups.resources if groups else []
    after = _after(more_users, groups, in_users and page.count > 0 and remaining == 0)
    total = _total(users) + _total(groups)
    return _answer(
        request, params, found, listed_groups, total, None, seal_cursor(request, params, after)
    )


def _after(more_users: str, groups: _Listed | None, users_filled_the_page: bool) -> str:
    """The root position after a page; "" when it was the last."""
    if more_users:
        return _IN_USERS + more_users
    if groups and groups.head.next_cursor:
        return _IN_GROUPS + groups.head.next_cursor
    if users_filled_the_page and _total(groups):
        return _IN_GROUPS  # the groups, from their first
    return ""
