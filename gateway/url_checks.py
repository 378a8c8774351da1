"""The URL rules of every request: one value per single-valued parameter, ids that can exist."""

from __future__ import annotations

import re

from aiohttp import web

from gateway import errors
from gateway.responses import Handler

# RFC 7644 §3.4.2 and §3.9, RFC 9865 §2: the query parameters that carry one value.
SINGLE_VALUED_PARAMETERS = (
    "filter",
    "startIndex",
    "count",
    "sortBy",
    "sortOrder",
    "attributes",
    "excludedAttributes",
    "cursor",
)

# Ids are the server's (RFC 7643 §3.1) and never hold a control character;
# the identity service would refuse a NUL, as in any text, with invalidValue.
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


@web.middleware
async def url_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """What every handler may take for granted of its URL, checked before it runs.

    A single-valued parameter given twice is 400 invalidValue (`query.get`
    would silently take the first); an id that can name nothing is 404.
    """
    for name in SINGLE_VALUED_PARAMETERS:
        given = len(request.query.getall(name, ()))
        if given > 1:
            raise errors.InvalidValue(f"{name} may be given once, not {given} times")
    refuse_unnameable_id(request.match_info.get("id", ""))
    return await handler(request)


def refuse_unnameable_id(resource_id: str) -> None:
    """404 for an id no resource can have, as for any unknown id."""
    if _CONTROL_CHARACTER.search(resource_id):
        raise errors.NotFound("no such resource")
