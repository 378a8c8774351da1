"""Signing in with a one-time console link, and out.

GET /login?token=… only shows a confirmation: a mail or chat scanner that
fetches the URL does not use the link up. Its POST (CSRF-checked against the
anonymous session the GET started) redeems the link, then starts a new
session, with a new CSRF token, for the admin it names.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from console.auth import NEW_SESSION, SESSION
from console.errors import BadInput, NotFound
from console.keys import COOKIE, IDENTITY
from console.pages import form_text, redirect
from console.sessions import new_session
from identity_api.v1 import identity_pb2 as pb

_LINK_HELP = (
    "This sign-in link is unknown, already used or expired (links last 10 minutes). "
    "Ask your operator for a new one: identityctl console-link ORG --actor EMAIL."
)


async def home(request: web.Request) -> web.StreamResponse:
    session = request.get(SESSION)
    if session is not None and session.org:
        return redirect(f"/o/{session.org}/")
    signed_in = session.email if session is not None else ""
    return aiohttp_jinja2.render_template("home.html", request, {"email": signed_in})


async def healthz(request: web.Request) -> web.StreamResponse:
    return web.Response(text="ok")


async def confirm(request: web.Request) -> web.StreamResponse:
    token = request.query.get("token", "")
    if not token or len(token) > 256:
        raise BadInput("This page needs the full sign-in link from identityctl console-link.")
    session = request.get(SESSION)
    if session is None:
        session = new_session()
        request[NEW_SESSION] = session
    context = {"token": token, "csrf": session.csrf}
    return aiohttp_jinja2.render_template("login.html", request, context)


async def redeem(request: web.Request) -> web.StreamResponse:
    token = await form_text(request, "token")
    identity = request.app[IDENTITY]
    try:
        link = await identity.call(
            identity.admin.RedeemConsoleLink, pb.RedeemConsoleLinkRequest(token=token)
        )
    except NotFound:
        raise BadInput(_LINK_HELP) from None
    request[NEW_SESSION] = new_session(link.admin_email, link.org_id, via="link")
    return redirect(f"/o/{link.org_id}/")


async def logout(request: web.Request) -> web.StreamResponse:
    response = aiohttp_jinja2.render_template("home.html", request, {"email": ""})
    request.pop(NEW_SESSION, None)
    request.app[COOKIE].clear(response)
    return response
