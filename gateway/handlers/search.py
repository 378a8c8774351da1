"""POST /.search at the org root (RFC 7644 §3.4.3): Users, then Groups.

One index walks the concatenation: Users first, then Groups. A filter that
names an attribute only one resource type has matches nothing of the other.
Users carry their groups and groups their members unless the projection
leaves them out (both are returned by default, RFC 7643 §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway import errors
from gateway.handlers.common import base_url, org_id, search_params, stream
from gateway.handlers.groups import member_inclusion
from gateway.responses import scim_json
from gateway.scim.resources import group_resource, list_response, user_resource
from identity_api.v1 import identity_pb2 as pb


@dataclass(frozen=True)
class _Listed:
    head: pb.PageHead
    resources: list[Any]  # pb.User or pb.Group


async def _listed(request: web.Request, method: str, message: Any, field: str) -> _Listed | None:
    """One type's page (its chunks' `field`), or None when the filter does not apply to it."""
    chunks = stream(request, method, message)
    try:
        first = await anext(chunks)  # the filter is checked before the first chunk
    except errors.InvalidFilter:
        return None
    resources = list(getattr(first, field))
    async for chunk in chunks:
        resources += getattr(chunk, field)
    return _Listed(first.head, resources)


async def search_all(request: web.Request) -> web.Response:
    params = await search_params(request)
    if params.by_cursor:
        raise errors.InvalidValue("cursor pagination is not supported by the root .search")
    index = params.page.index
    start = index.start_index
    count = index.count if index.HasField("count") else None
    users_page = pb.Page(index=pb.IndexPage(start_index=start, count=count))
    users = await _listed(
        request,
        "StreamUsers",
        pb.ListUsersRequest(
            org_id=org_id(request),
            filter=params.filter,
            page=users_page,
            include_groups=params.projection.wants("groups"),
            json_document=True,
        ),
        "users",
    )
    users_total = users.head.total_results if users else 0
    found = users.resources if users else []
    remaining = None if count is None else max(0, count - len(found))
    groups_page = pb.IndexPage(start_index=max(1, start - users_total))
    if remaining is not None:
        groups_page.count = remaining
    groups = await _listed(
        request,
        "StreamGroups",
        pb.ListGroupsRequest(
            org_id=org_id(request),
            filter=params.filter,
            page=pb.Page(index=groups_page),
            members=member_inclusion(request, params.projection.wants("members")),
        ),
        "groups",
    )
    if users is None and groups is None:
        raise errors.InvalidFilter("the filter applies to neither Users nor Groups")
    base = base_url(request)
    resources = [params.projection.apply(user_resource(u, base)) for u in found]
    if groups is not None and (start + len(found) > users_total):
        resources += [params.projection.apply(group_resource(g, base)) for g in groups.resources]
    total = users_total + (groups.head.total_results if groups else 0)
    return scim_json(list_response(resources, total, start))
