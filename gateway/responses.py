"""SCIM responses: JSON with `application/scim+json`, and the error middleware.

The error middleware is the outermost layer: it gives every request an id
(echoed as X-Request-Id and sent to the identity service), renders every
ScimError and aiohttp HTTP error as an RFC 7644 §3.12 body, and turns any
other exception into a generic 500 whose traceback only reaches the log.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from gateway import errors
from json_logs import REQUEST_ID_VAR

log = logging.getLogger(__name__)

SCIM_CONTENT_TYPE = "application/scim+json"
REQUEST_ID = web.RequestKey("request_id", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def scim_json(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body),
        status=status,
        headers=headers,
        content_type=SCIM_CONTENT_TYPE,
        charset="utf-8",
    )


# A body that fits in this much is sent whole, with a Content-Length; a larger
# one is streamed (chunked) in pieces of about this size.
_PIECE_BYTES = 256 * 1024


async def stream_json(
    request: web.Request,
    head: dict[str, Any],
    key: str,
    items: AsyncIterator[Any],
    headers: dict[str, str] | None = None,
) -> web.StreamResponse:
    """`head` with a last attribute `key` whose list is written as `items` come.

    Memory stays bounded by one piece, whatever the number of items. Once
    the first piece is sent the status is fixed: callers fetch whatever can
    fail before they call this.
    """
    opening = orjson.dumps(head)[:-1] + (b"," if head else b"")
    pending = [opening, b'"' + key.encode() + b'":[']
    size, separator = 0, b""
    response: web.StreamResponse | None = None
    async for item in items:
        piece = separator + orjson.dumps(item)
        pending.append(piece)
        size += len(piece)
        separator = b","
        if size >= _PIECE_BYTES:
            if response is None:
                response = web.StreamResponse(headers=_json_headers(headers))
                await response.prepare(request)
            await response.write(b"".join(pending))
            pending, size = [], 0
    pending.append(b"]}")
    if response is None:  # it all fit in one piece: an ordinary response
        return web.Response(body=b"".join(pending), headers=_json_headers(headers))
    await response.write(b"".join(pending))
    await response.write_eof()
    return response


def _json_headers(headers: dict[str, str] | None) -> dict[str, str]:
    return {"Content-Type": f"{SCIM_CONTENT_TYPE}; charset=utf-8", **(headers or {})}


def error_response(error: errors.ScimError, request_id: str) -> web.Response:
    headers = {"X-Request-Id": request_id, **error.headers}
    if isinstance(error, errors.Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="SCIM"'
    return scim_json(error.body(), status=error.status, headers=headers)


def _from_http(exc: web.HTTPException) -> errors.ScimError:
    """The SCIM error for an aiohttp-raised HTTP error (routing, body size)."""
    if isinstance(exc, web.HTTPNotFound):
        return errors.NotFound("no such endpoint")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return errors.MethodNotAllowed(
            f"{exc.method} is not supported here; allowed: {allowed}",
            headers={"Allow": allowed},
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return errors.PayloadTooLarge("the request body is too large")
    error = errors.ScimError(exc.reason)
    error.status = exc.status  # type: ignore[misc]  # an instance-level status for the odd case
    return error


def _request_id(request: web.Request) -> str:
    incoming = request.headers.get("X-Request-Id", "")
    return incoming if _REQUEST_ID_SHAPE.match(incoming) else uuid.uuid4().hex


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = _request_id(request)
    request[REQUEST_ID] = request_id
    # Each request runs in its own task: every log line it emits carries the id.
    REQUEST_ID_VAR.set(request_id)
    try:
        response = await handler(request)
    except errors.ScimError as error:
        return error_response(error, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(_from_http(exc), request_id)
    except Exception:
        log.exception(
            "unhandled error [request %s] %s %s", request_id, request.method, request.path
        )
        return error_response(
            errors.InternalError(f"internal error; request id {request_id}"), request_id
        )
    if not response.prepared:
        response.headers["X-Request-Id"] = request_id
    return response
