"""Connect: the SCIM URL, the SSO prerequisite, and the IdP's steps (SPEC §1)."""

from __future__ import annotations

from aiohttp import web

from console.keys import IDENTITY, SETTINGS
from console.pages import admin, redirect, render
from identity_api.v1 import identity_pb2 as pb


async def page(request: web.Request) -> web.StreamResponse:
    who = admin(request)
    identity = request.app[IDENTITY]
    org = await identity.call(identity.admin.GetOrg, pb.GetOrgRequest(org_id=who.org))
    return render(
        request,
        "connect.html",
        "connect",
        org_name=org.name,
        sso_configured=org.sso_configured,
        scim_url=request.app[SETTINGS].scim_url(who.org),
    )


async def to_page(request: web.Request) -> web.StreamResponse:
    return redirect(f"/o/{admin(request).org}/")
