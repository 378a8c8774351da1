"""Members: search and page through the org's members (Directory ListMembers)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from google.protobuf import struct_pb2

from console.errors import BadInput
from console.keys import IDENTITY
from console.pages import admin, render, role_name
from identity_api.v1 import identity_pb2 as pb

PAGE_SIZE = 25
# What the search box matches (case-insensitively, as /Schemas publishes them).
_SEARCHED = (("userName", ""), ("displayName", ""), ("emails", "value"))


def search_filter(text: str) -> pb.Filter:
    """`userName co q or displayName co q or emails.value co q`."""
    either = pb.Filter()
    for attribute, sub in _SEARCHED:
        comparison = pb.Comparison(
            path=pb.AttributePath(attribute=attribute, sub_attribute=sub),
            operator=pb.CO,
            value=struct_pb2.Value(string_value=text),
        )
        getattr(either, "or").operands.append(pb.Filter(comparison=comparison))
    return either


def member_row(member: pb.OrgMember) -> dict[str, Any]:
    user = member.user
    return {
        "user_name": user.user_name,
        "display_name": user.display_name,
        "email": user.primary_email,
        "active": user.active and not member.suspended,
        "effective_role": role_name(member.effective_role),
        "direct_role": role_name(user.direct_role),
        "groups": [group.display_name for group in member.groups],
        # The IdP's own id for the member: set by SCIM clients such as Entra.
        "scim_managed": bool(user.external_id),
    }


def _start(request: web.Request) -> int:
    text = request.query.get("start", "1")
    if not text.isdigit() or int(text) < 1:
        raise BadInput("start must be a positive whole number")
    return int(text)


async def page(request: web.Request) -> web.StreamResponse:
    who = admin(request)
    query = request.query.get("q", "").strip()[:200]
    start = _start(request)
    listing = pb.ListMembersRequest(
        org_id=who.org,
        page=pb.Page(index=pb.IndexPage(start_index=start, count=PAGE_SIZE)),
        include_groups=True,
    )
    if query:
        listing.filter.CopyFrom(search_filter(query))
    identity = request.app[IDENTITY]
    listed = await identity.call(identity.directory.ListMembers, listing)
    end = start + len(listed.members) - 1
    pages = {
        "newer": f"?{urlencode({'q': query, 'start': max(1, start - PAGE_SIZE)})}"
        if start > 1
        else "",
        "older": f"?{urlencode({'q': query, 'start': end + 1})}"
        if end < listed.total_results
        else "",
    }
    return render(
        request,
        "members.html",
        "members",
        members=[member_row(m) for m in listed.members],
        query=query,
        total=listed.total_results,
        first=start,
        last=end,
        pages=pages,
    )
