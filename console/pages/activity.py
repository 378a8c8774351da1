"""Activity: the org's SCIM request log, newest first, filtered (issue #12).

The first page follows new requests live: /activity/live is a Server-Sent
Events stream that asks ListRequests again every LIVE_POLL_SECONDS (as the
admin, so a demoted admin's stream ends) and sends the entries it had not
seen. The request log has no stream RPC; a poll of its newest page is cheap.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from console.auth import SignedIn
from console.errors import BadInput, ConsoleError
from console.identity import as_admin
from console.keys import IDENTITY, SETTINGS
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
LIVE_POLL_SECONDS = 1.0


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


async def _newest(
    request: web.Request, who: SignedIn, chosen: dict[str, str], cursor: str = ""
) -> pb.ListRequestsResponse:
    identity = request.app[IDENTITY]
    return await identity.call(
        identity.admin.ListRequests,
        pb.ListRequestsRequest(
            context=as_admin(who.email), org_id=who.org, count=PAGE_SIZE, cursor=cursor, **chosen
        ),
    )


async def page(request: web.Request) -> web.StreamResponse:
    who = admin(request)
    chosen = _filters(request)
    cursor = request.query.get("cursor", "")
    listed = await _newest(request, who, chosen, cursor)
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
        # Only the newest page follows along; an older one stays put.
        live="" if cursor else f"/o/{who.org}/activity/live?{urlencode(chosen)}",
    )


async def live(request: web.Request) -> web.StreamResponse:
    """New entries as SSE `data:` lines (JSON rows), until the session would expire."""
    who = admin(request)
    chosen = _filters(request)
    seen = {e.request_id for e in (await _newest(request, who, chosen)).entries}
    stream = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
    )
    await stream.prepare(request)
    loop = asyncio.get_running_loop()
    until = loop.time() + request.app[SETTINGS].session_seconds
    try:
        while loop.time() < until:
            await asyncio.sleep(LIVE_POLL_SECONDS)
            try:
                entries = list((await _newest(request, who, chosen)).entries)
            except ConsoleError:  # no longer allowed, or the service is gone: stop
                break
            # A comment line each round: a browser that left fails the write at once
            # (no polling for nobody), and idle proxies keep the connection.
            await stream.write(b": poll\n\n")
            for entry in reversed([e for e in entries if e.request_id not in seen]):
                await stream.write(f"data: {json.dumps(entry_row(entry))}\n\n".encode())
            seen = {e.request_id for e in entries}
        await stream.write(b"event: end\ndata: \n\n")
    except ConnectionError:  # the browser went away
        pass
    return stream
