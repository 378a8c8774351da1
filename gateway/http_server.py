"""The HTTP server around the app: the parser's limits, and SCIM bodies for its errors.

aiohttp's parser rejects a request (a request line or header over its limits,
a method it does not know, malformed HTTP) before any middleware runs, and its
RequestHandler.handle_error answers such requests, and any exception that
escapes the middlewares, in text/plain. `ScimAppRunner` serves the app with
connections whose handle_error answers in SCIM (RFC 7644 §3.12) instead: the one
place where the parser's errors become SCIM errors.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, LineTooLong
from aiohttp.web_request import BaseRequest

from gateway import errors
from gateway.responses import error_response

# The request line holds the URL: room for a filter of the filter parser's
# largest length (8,192 characters) even when every character is
# percent-encoded, so a hostile filter reaches the parser and gets invalidFilter.
# Must differ from MAX_FIELD_BYTES: aiohttp's LineTooLong tells which limit was
# passed only by naming it.
MAX_REQUEST_LINE_BYTES: Final = 32 * 1024
# One header (name and value). A SCIM bearer key is well under 100 bytes.
MAX_FIELD_BYTES: Final = 8 * 1024
MAX_HEADERS: Final = 128

# aiohttp raises a plain BadHttpMessage with this text when there are more
# than MAX_HEADERS headers; it has no class of its own.
_TOO_MANY_HEADERS: Final = "Too many headers received"


def protocol_error(status: int, exc: BaseException | None) -> errors.ScimError:
    """The SCIM error for an answer aiohttp's protocol writes itself."""
    if isinstance(exc, LineTooLong):
        if exc.args[1] == MAX_REQUEST_LINE_BYTES:
            return errors.UriTooLong(
                f"the request line is longer than {MAX_REQUEST_LINE_BYTES} bytes"
            )
        return errors.HeaderFieldsTooLarge(f"a header is longer than {MAX_FIELD_BYTES} bytes")
    if isinstance(exc, BadHttpMessage) and exc.message == _TOO_MANY_HEADERS:
        return errors.HeaderFieldsTooLarge(f"the request has more than {MAX_HEADERS} headers")
    # RFC 9110 §9.1: a method the server does not recognise is 501. The parser
    # knows a fixed set of methods; a known one no route takes is 405 (routing).
    if isinstance(exc, BadHttpMethod):
        return errors.NotImplementedFeature("the request method is not implemented")
    if isinstance(exc, BadHttpMessage):
        return errors.ScimError("the request is not valid HTTP/1.1")
    # An exception that escaped the middlewares: a bug, whose traceback aiohttp logged.
    return errors.InternalError("internal error")


class _ScimRequestHandler(web.RequestHandler):
    """aiohttp's connection protocol, with SCIM error bodies."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own version logs the error and refuses (ConnectionError)
        # once a response has begun; only its text/plain body is replaced.
        super().handle_error(request, status, exc, message)
        response = error_response(protocol_error(status, exc), uuid.uuid4().hex)
        response.force_close()  # as aiohttp's: the connection's state is unknown
        return response


class _ScimServer(web.Server):
    __slots__ = ()  # the layout of web.Server, so that a web.Server can become one

    def __call__(self) -> web.RequestHandler:
        return _ScimRequestHandler(self, loop=self._loop, **self._kwargs)


class ScimAppRunner(web.AppRunner):
    """An AppRunner with the parser's limits set and SCIM answers to its errors."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        super().__init__(
            app,
            max_line_size=MAX_REQUEST_LINE_BYTES,
            max_field_size=MAX_FIELD_BYTES,
            max_headers=MAX_HEADERS,
            **kwargs,
        )

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp has no parameter for the protocol class: Server.__call__, the
        # per-connection protocol factory, always builds a plain RequestHandler.
        server.__class__ = _ScimServer
        return server
