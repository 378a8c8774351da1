"""Status: is provisioning working? The last success, the last error, 24 h counts."""

from __future__ import annotations

from aiohttp import web

from console.identity import as_admin
from console.keys import IDENTITY
from console.pages import admin, render, when
from console.pages.activity import entry_row
from identity_api.v1 import identity_pb2 as pb


async def page(request: web.Request) -> web.StreamResponse:
    who = admin(request)
    identity = request.app[IDENTITY]
    stats = await identity.call(
        identity.admin.GetRequestStats,
        pb.GetRequestStatsRequest(context=as_admin(who.email), org_id=who.org),
    )
    last_error = entry_row(stats.last_error) if stats.HasField("last_error") else None
    return render(
        request,
        "status.html",
        "status",
        last_success=when(stats, "last_success"),
        last_error=last_error,
        requests_24h=stats.requests_24h,
        errors_24h=stats.errors_24h,
    )
