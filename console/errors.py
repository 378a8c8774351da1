"""What the console answers when something fails: an HTML page, never a traceback.

Each ConsoleError carries its HTTP status; `identity.calling()` is the one
place gRPC errors become ConsoleErrors, and `error_middleware` the one place
they (and anything unexpected) become pages.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web

log = logging.getLogger("console")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ConsoleError(Exception):
    """A failure whose message the admin may read."""

    status = 500
    title = "Something went wrong"


class BadInput(ConsoleError):
    status = 400
    title = "That did not work"


class SignInRequired(ConsoleError):
    status = 401
    title = "Sign in required"


class Forbidden(ConsoleError):
    status = 403
    title = "Not allowed"


class NotFound(ConsoleError):
    status = 404
    title = "Not found"


class Unavailable(ConsoleError):
    status = 503
    title = "The identity service is unavailable"


def _page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    context = {"title": title, "message": message, "status": status}
    return aiohttp_jinja2.render_template("error.html", request, context, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ConsoleError as exc:
        return _page(request, exc.status, exc.title, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects
        return _page(request, exc.status, exc.reason, "")
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("console request failed (incident %s)", incident)
        message = f"The console could not answer; incident {incident} is logged."
        return _page(request, 500, ConsoleError.title, message)
