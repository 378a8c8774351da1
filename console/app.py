"""create_app: the console's aiohttp application, its middlewares, routes and channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from console.auth import auth_middleware
from console.errors import Handler, error_middleware
from console.identity import Identity, open_channel
from console.keys import COOKIE, IDENTITY, SETTINGS
from console.pages import activity, connect, keys, login, members, roles, status
from console.sessions import SessionCookie
from console.settings import Settings

_HERE = Path(__file__).parent


async def _identity_channel(app: web.Application) -> AsyncIterator[None]:
    access = app[SETTINGS].identity
    channel = open_channel(access)
    app[IDENTITY] = Identity(channel, access.operator_token)
    yield
    await channel.close()


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    # Pages hold secrets (a new key) and CSRF tokens: never cached, never framed.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"  # a ?token= never leaks onward
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )
    return response


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", login.home)
    app.router.add_get("/healthz", login.healthz)
    app.router.add_get("/login", login.confirm)
    app.router.add_post("/login", login.redeem)
    app.router.add_post("/logout", login.logout)
    app.router.add_get("/o/{org}", connect.to_page)
    app.router.add_get("/o/{org}/", connect.page)
    app.router.add_get("/o/{org}/keys", keys.page)
    app.router.add_post("/o/{org}/keys", keys.create)
    app.router.add_get("/o/{org}/keys/{key_id}/revoke", keys.confirm_revoke)
    app.router.add_post("/o/{org}/keys/{key_id}/revoke", keys.revoke)
    app.router.add_get("/o/{org}/activity", activity.page)
    app.router.add_get("/o/{org}/activity/live", activity.live)
    app.router.add_get("/o/{org}/members", members.page)
    app.router.add_get("/o/{org}/roles", roles.page)
    app.router.add_post("/o/{org}/roles/rules", roles.add_rule)
    app.router.add_post("/o/{org}/roles/rules/{rule_id}/delete", roles.delete_rule)
    app.router.add_post("/o/{org}/roles/default", roles.set_default)
    app.router.add_get("/o/{org}/status", status.page)
    app.router.add_static("/static", _HERE / "static")


def create_app(settings: Settings) -> web.Application:
    # Errors are outermost, so a refused request is a page too; the gate is
    # next, so no handler runs for anyone it has not admitted.
    app = web.Application(middlewares=[_security_headers, error_middleware, auth_middleware])
    app[SETTINGS] = settings
    app[COOKIE] = SessionCookie(settings)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(_HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app.cleanup_ctx.append(_identity_channel)
    setup_routes(app)
    return app
