"""The console's gate: who is signed in, CSRF on every POST, Org Admins only.

Every page lives under /o/{org}/: the identity service is asked on each
request whether the signed-in admin is an Org Admin of that org (a cheap
ListRoleRules for the admin, PERMISSION_DENIED for anyone else), so a
demoted admin loses the console at once. A console link's session is bound
to its one org; a proxy session may open any org its admin administers.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from console.errors import Forbidden, Handler, NotFound, SignInRequired
from console.identity import as_admin
from console.keys import COOKIE, IDENTITY, SETTINGS
from console.sessions import CSRF_FIELD, Session, csrf_ok, proxy_session
from identity_api.v1 import identity_pb2 as pb

_SIGN_IN = (
    "Sign in through your organization's SSO, or with a one-time link from your operator "
    "(identityctl console-link ORG --actor EMAIL)."
)

SESSION = web.RequestKey("session", Session)  # the request's session, if any
NEW_SESSION = web.RequestKey("new_session", Session)  # to write into the cookie


@dataclass(frozen=True)
class SignedIn:
    """An Org Admin of `org`, just confirmed by the identity service."""

    org: str
    email: str
    csrf: str
    rules: pb.ListRoleRulesResponse


SIGNED_IN = web.RequestKey("signed_in", SignedIn)


async def _confirm_admin(request: web.Request, session: Session, org: str) -> SignedIn:
    if not session.email:
        raise SignInRequired(_SIGN_IN)
    if session.via == "link" and session.org != org:
        raise Forbidden(f"This session is for org {session.org}, not {org}.")
    identity = request.app[IDENTITY]
    ask = pb.ListRoleRulesRequest(context=as_admin(session.email), org_id=org)
    try:
        rules = await identity.call(identity.admin.ListRoleRules, ask)
    except NotFound:  # an unknown org is refused like a foreign one: nothing to learn
        raise Forbidden(f"{session.email} is not an Org Admin of org {org}") from None
    return SignedIn(org, session.email, session.csrf, rules)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    cookie = request.app[COOKIE]
    stored = cookie.read(request)
    session = proxy_session(request, request.app[SETTINGS], stored) or stored
    if session is not None:
        request[SESSION] = session
        if session != stored:
            request[NEW_SESSION] = session
    if request.method == "POST":
        form = await request.post()
        sent = form.get(CSRF_FIELD)
        if not csrf_ok(session, sent if isinstance(sent, str) else ""):
            raise Forbidden("This form expired or did not come from the console: reload, retry.")
    org = request.match_info.get("org")
    if org is not None:
        if session is None:
            raise SignInRequired(_SIGN_IN)
        request[SIGNED_IN] = await _confirm_admin(request, session, org)
    response = await handler(request)
    if NEW_SESSION in request and not response.prepared:  # a stream sent its headers
        cookie.write(response, request[NEW_SESSION])
    return response
