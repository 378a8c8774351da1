"""Activity: the org's SCIM request log, newest first, filtered (issue #12)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from console.errors import BadInput
from console.identity import as_admin
from console.keys import IDENTITY
from console.pages import admin, render, when
from identity_api.v1 import identity_pb2 as pb

# Each filter's choices, "" meaning any: ListRequests takes exactly these.
FILTERS: dict[str, tuple[str, ...]] = {
    "outcome": ("", "success", "failure"),
    "method": ("", "GET", "POST", "PUT", "PATCH", "DELETE"),
    "resource": (
        "",
        "Users",
        "Groups",
        "Bulk",
        ".search",
        "Schemas",
        "ResourceTypes",
        "ServiceProviderConfig",
    ),
    "idp": ("", "okta", "entra", "other"),
}
PAGE_SIZE = 50


def entry_row(entry: pb.RequestLogEntry) -> dict[str, Any]:
    return {
        "time": when(entry, "time"),
        "method": entry.method,
        "route": entry.route,
        "resource_id": entry.resource_id,
        "status": entry.status,
        "failed": entry.status >= 400,
        "scim_type": entry.scim_type,
        "latency_ms": f"{entry.latency_ms:.0f}",
        "idp": entry.idp,
        "key_id": entry.key_id,
        "request_id": entry.request_id,
        "error_detail": entry.error_detail,
        "masked_body": entry.masked_body,
    }


def _filters(request: web.Request) -> dict[str, str]:
    chosen = {name: request.query.get(name, "") for name in FILTERS}
    for name, value in chosen.items():
        if value not in FILTERS[name]:
            raise BadInput(f"{name} must be one of {', '.join(v for v in FILTERS[name] if v)}")
    return chosen


async def page(request: web.Request) -> web.StreamResponse:
    who = admin(request)
    chosen = _filters(request)
    cursor = request.query.get("cursor", "")
    identity = request.app[IDENTITY]
    listed = await identity.call(
        identity.admin.ListRequests,
        pb.ListRequestsRequest(
            context=as_admin(who.email), org_id=who.org, count=PAGE_SIZE, cursor=cursor, **chosen
        ),
    )
    older = ""
    if listed.next_cursor:
        older = "?" + urlencode({**chosen, "cursor": listed.next_cursor})
    return render(
        request,
        "activity.html",
        "activity",
        entries=[entry_row(e) for e in listed.entries],
        filters=FILTERS,
        chosen=chosen,
        older=older,
    )
