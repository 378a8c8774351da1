"""Keys: create (the secret shown once), list, revoke after a confirmation."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from console.errors import BadInput, NotFound
from console.identity import as_admin
from console.keys import IDENTITY, SETTINGS
from console.pages import admin, form_text, is_past, redirect, render, when
from identity_api.v1 import identity_pb2 as pb

# The expiry choices offered, in days ("" never expires).
EXPIRY_DAYS = {"": "Never", "30": "30 days", "90": "90 days", "180": "180 days", "365": "1 year"}
_DAY = 86_400


def key_row(key: pb.ScimKey) -> dict[str, Any]:
    expired = is_past(key, "expires")
    state = "revoked" if key.HasField("revoked") else "expired" if expired else "active"
    return {
        "id": key.id,
        "name": key.name,
        "created_by": key.created_by,
        "created": when(key, "created"),
        "last_used": when(key, "last_used") or "never",
        "expires": when(key, "expires") or "never",
        "revoked": when(key, "revoked"),
        "state": state,
    }


async def _keys(request: web.Request) -> list[pb.ScimKey]:
    who = admin(request)
    identity = request.app[IDENTITY]
    listed = await identity.call(
        identity.admin.ListScimKeys,
        pb.ListScimKeysRequest(context=as_admin(who.email), org_id=who.org),
    )
    return list(listed.keys)


async def page(request: web.Request) -> web.StreamResponse:
    rows = [key_row(key) for key in await _keys(request)]
    return render(request, "keys.html", "keys", keys=rows, expiry_days=EXPIRY_DAYS)


async def create(request: web.Request) -> web.StreamResponse:
    who = admin(request)
    name = await form_text(request, "name", limit=200)
    days = await form_text(request, "expires_in_days")
    if not name:
        raise BadInput('A key needs a descriptive name, e.g. "Okta SCIM key".')
    if days not in EXPIRY_DAYS:
        raise BadInput("Choose an expiry from the list.")
    identity = request.app[IDENTITY]
    created = await identity.call(
        identity.admin.CreateScimKey,
        pb.CreateScimKeyRequest(
            context=as_admin(who.email),
            org_id=who.org,
            name=name,
            expires_in_seconds=int(days or 0) * _DAY,
        ),
    )
    return render(
        request,
        "key_created.html",
        "keys",
        key=key_row(created.key),
        token=created.token,
        scim_url=request.app[SETTINGS].scim_url(who.org),
    )


async def _key(request: web.Request) -> pb.ScimKey:
    key_id = request.match_info["key_id"]
    for key in await _keys(request):
        if key.id == key_id:
            return key
    raise NotFound(f"No SCIM key {key_id} in this org.")


async def confirm_revoke(request: web.Request) -> web.StreamResponse:
    key = await _key(request)
    return render(request, "key_revoke.html", "keys", key=key_row(key))


async def revoke(request: web.Request) -> web.StreamResponse:
    who = admin(request)
    key = await _key(request)
    identity = request.app[IDENTITY]
    await identity.call(
        identity.admin.RevokeScimKey,
        pb.RevokeScimKeyRequest(context=as_admin(who.email), org_id=who.org, key_id=key.id),
    )
    return redirect(f"/o/{who.org}/keys")
