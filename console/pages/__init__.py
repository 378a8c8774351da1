"""Page handlers: read the form, call the identity service, render a template."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from console.auth import SIGNED_IN, SignedIn
from console.errors import BadInput
from identity_api.v1 import identity_pb2 as pb

ROLES = [name for name in pb.Role.keys() if name != "ROLE_UNSPECIFIED"]


def admin(request: web.Request) -> SignedIn:
    return request[SIGNED_IN]


def render(request: web.Request, template: str, active: str, **context: Any) -> web.Response:
    """A page of the signed-in admin's org, with its navigation."""
    who = admin(request)
    page = {"org": who.org, "email": who.email, "csrf": who.csrf, "active": active, **context}
    return aiohttp_jinja2.render_template(template, request, page)


def redirect(location: str) -> web.Response:
    """After a POST: the page again, so a reload does not repeat the write (303)."""
    return web.Response(status=303, headers={"Location": location})


def when(message: Message, field: str) -> str:
    """A set timestamp field as `2026-01-02 03:04 UTC`, else ""."""
    if not message.HasField(field):
        return ""
    ts: Timestamp = getattr(message, field)
    return ts.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M UTC")


def is_past(message: Message, field: str) -> bool:
    if not message.HasField(field):
        return False
    ts: Timestamp = getattr(message, field)
    return ts.ToDatetime(tzinfo=UTC) <= datetime.now(UTC)


def role_name(role: pb.Role.ValueType) -> str:
    return "" if role == pb.ROLE_UNSPECIFIED else pb.Role.Name(role)


async def form_text(request: web.Request, name: str, *, limit: int = 256) -> str:
    value = (await request.post()).get(name, "")
    if not isinstance(value, str):
        raise BadInput(f"{name} must be text")
    if len(value) > limit:
        raise BadInput(f"{name} is longer than {limit} characters")
    return value.strip()
