"""What every SCIM handler needs: body, base URL, actor, ETags, list params."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from aiohttp import web

from gateway import errors
from gateway.auth import KEY_ID
from gateway.cursors import CursorQuery
from gateway.identity_client import IdentityClient
from gateway.keys import CURSORS, IDENTITY, SETTINGS
from gateway.responses import REQUEST_ID, scim_json, stream_json
from gateway.scim.filter import parse_attribute_path, parse_filter
from gateway.scim.projection import Projection
from gateway.scim.resources import etag, list_response, parse_etag
from identity_api.v1 import identity_pb2 as pb
from scim_schema.urns import SEARCH_REQUEST as SEARCH_REQUEST_SCHEMA

# startIndex travels as int32; anything past it is past the end anyway.
_MAX_START_INDEX = 2**31 - 1
# An integer as a query string spells it: ASCII digits only (int() also takes "1_0").
_INTEGER = re.compile(r"([+-]?)0*([0-9]+)", re.ASCII)
# Longer integers are read as ±10**18: every caller clamps far below it, and
# int() refuses more than 4,300 digits.
_MAX_DIGITS = 18
# SCIM resources nest a few levels; deeper bodies are refused before they
# reach protobuf (which decodes at most 100 levels) or Python's recursion limit.
MAX_JSON_DEPTH = 32


def identity(request: web.Request) -> IdentityClient:
    """The identity service's client; each call takes `request[REQUEST_ID]`."""
    return request.app[IDENTITY]


def base_url(request: web.Request) -> str:
    """The org's SCIM base URL as the outside world knows it."""
    return f"{request.app[SETTINGS].public_url}/scim/v2/{request.match_info['org']}"


def org_id(request: web.Request) -> str:
    return request.match_info["org"]


def writer(request: web.Request) -> pb.RequestContext:
    return pb.RequestContext(
        actor=pb.Actor(scim_key_id=request[KEY_ID]), request_id=request[REQUEST_ID]
    )


async def read_json(request: web.Request) -> Any:
    """The request body as JSON (application/scim+json or application/json)."""
    raw = await request.read()  # aiohttp enforces the size limit: 413
    try:
        # orjson refuses NaN and Infinity, which JSON does not have (RFC 8259 §6).
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.InvalidSyntax(f"the body is not valid JSON: {exc}") from exc
    if _depth(body) > MAX_JSON_DEPTH:
        raise errors.InvalidSyntax(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    return body


def _depth(value: Any) -> int:
    """How deeply `value` nests, counted without recursion."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, depth + 1) for child in children)
    return deepest


async def read_object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise errors.InvalidSyntax("the body must be a JSON object")
    return body


def none_match(request: web.Request, version: int) -> bool:
    """Whether If-None-Match names this version (or `*`)."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    tags = _tags(header)
    return "*" in tags or any(parse_etag(t) == version for t in tags)


MessageT = TypeVar("MessageT")


def with_version(message: MessageT, version: int | None) -> MessageT:
    """Set a write request's expected version (If-Match), if there is one."""
    if version is not None:
        message.expected_version = version  # type: ignore[attr-defined]
    return message


def _tags(header: str) -> list[str]:
    return [t.strip() for t in header.split(",") if t.strip()]


async def preconditions(
    request: web.Request, current_version: Callable[[], Awaitable[int]]
) -> int | None:
    """A write's If-None-Match and If-Match (RFC 7232 §3.1-3.2): the version to expect.

    412 when If-None-Match names the current version or If-Match names none of
    them. One entity tag travels to the identity service, which checks it in
    the write's own transaction; a list needs the current version first, which
    then travels the same way, so a write between the two still gets 412.
    """
    known: list[int] = []

    async def current() -> int:
        if not known:
            known.append(await current_version())
        return known[0]

    if "If-None-Match" in request.headers and none_match(request, await current()):
        raise errors.PreconditionFailed("the resource matches If-None-Match")
    header = request.headers.get("If-Match")
    tags = _tags(header) if header is not None else ["*"]
    if "*" in tags:
        return None
    versions = {v for v in map(parse_etag, tags) if v is not None}
    if len(tags) == 1 and versions:
        return versions.pop()
    if versions and (version := await current()) in versions:
        return version
    raise errors.PreconditionFailed("If-Match does not match the resource's version")


async def listing(
    request: web.Request,
    params: ListParams,
    chunks: AsyncIterator[Any],
    resources: Callable[[Any], Iterable[dict[str, Any]]],
) -> web.StreamResponse:
    """The ListResponse of a streamed page, written as its chunks arrive.

    Index pages carry startIndex, cursor pages nextCursor and previousCursor
    where there is such a page (RFC 9865). `resources` renders
    one chunk's resources; no page is ever held whole, so none is too large.
    """
    first = await anext(chunks)  # what fails before the first chunk is still a SCIM error
    head = first.head
    if params.by_cursor:
        after, before = (
            seal_cursor(request, params, c) for c in (head.next_cursor, head.previous_cursor)
        )
        envelope = list_response([], head.total_results, None, after, before)
    else:
        envelope = list_response([], head.total_results, head.start_index)
    envelope["itemsPerPage"] = head.items
    del envelope["Resources"]  # written last, one resource at a time

    async def projected() -> AsyncIterator[dict[str, Any]]:
        for resource in resources(first):
            yield params.projection.apply(resource)
        async for chunk in chunks:
            for resource in resources(chunk):
                yield params.projection.apply(resource)

    return await stream_json(request, envelope, "Resources", projected())


def resource_response(
    resource: dict[str, Any], version: int, location: str, *, status: int = 200
) -> web.Response:
    """A resource with its ETag and Location (known even if meta is projected away)."""
    headers = {"ETag": etag(version), "Location": location}
    return scim_json(resource, status=status, headers=headers)


@dataclass(frozen=True)
class ListParams:
    filter: pb.Filter | None
    sort: pb.SortOrder | None
    page: pb.Page
    projection: Projection
    # Cursor pages (RFC 9865): the query their cursors are sealed for.
    cursor_query: CursorQuery | None = None

    @property
    def by_cursor(self) -> bool:
        return self.cursor_query is not None


def _int(
    params: Mapping[str, Any], name: str, error: type[errors.ScimError] = errors.InvalidValue
) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    # A JSON body carries a number, a query string its digits; true is no count.
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and (match := _INTEGER.fullmatch(raw)):
        sign, digits = match.groups()
        return int(sign + (digits if len(digits) <= _MAX_DIGITS else "1" + "0" * _MAX_DIGITS))
    raise error(f"{name} must be an integer")


def _text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, list):  # .search bodies may send lists of names
        value = ",".join(str(v) for v in value)
    if not isinstance(value, str):
        raise errors.InvalidValue(f"{name} must be a string")
    return value


def _index_page(params: Mapping[str, Any], max_page_size: int) -> pb.Page:
    """RFC 7644 §3.4.2.4: a negative count is 0, a larger one than we serve is capped."""
    count = _int(params, "count")
    # Sent even when absent, so that defaultPageSize is what we advertise.
    count = max_page_size if count is None else max(0, min(count, max_page_size))
    start = min(max(1, _int(params, "startIndex") or 1), _MAX_START_INDEX)
    return pb.Page(index=pb.IndexPage(start_index=start, count=count))


def _cursor_count(params: Mapping[str, Any], max_page_size: int) -> int:
    """RFC 9865 §2: a negative count is 0; §2.1: above maxPageSize it is invalidCount."""
    count = _int(params, "count", errors.InvalidCount)
    if count is None:
        return max_page_size
    if count > max_page_size:
        raise errors.InvalidCount(f"count must be between 0 and maxPageSize ({max_page_size})")
    return max(0, count)


def _cursor_page(request: web.Request, query: CursorQuery, params: Mapping[str, Any]) -> pb.Page:
    count = _cursor_count(params, request.app[SETTINGS].max_page_size)
    cursor = params["cursor"]
    if cursor is None:  # a .search body's null: no cursor yet, like ""
        cursor = ""
    if not isinstance(cursor, str):
        raise errors.InvalidCursor("cursor must be a string")
    # RFC 9865 §2: an empty cursor asks for the first page.
    position = request.app[CURSORS].open(query, count, cursor) if cursor else ""
    return pb.Page(cursor=pb.CursorPage(cursor=position, count=count))


def seal_cursor(request: web.Request, params: ListParams, position: str) -> str:
    """The client's cursor for the identity service's `position`; "" where there is none."""
    if not position or params.cursor_query is None:
        return ""
    count = params.page.cursor.count
    return request.app[CURSORS].seal(params.cursor_query, count, position)


def _sort(params: Mapping[str, Any]) -> pb.SortOrder | None:
    by = _text(params, "sortBy")
    if not by:
        return None
    order = (_text(params, "sortOrder") or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise errors.InvalidValue('sortOrder must be "ascending" or "descending"')
    return pb.SortOrder(by=parse_attribute_path(by), descending=order == "descending")


def list_params(request: web.Request, params: Mapping[str, Any], resource: str) -> ListParams:
    """A listing of `resource`'s query parameters (GET) or SearchRequest body (POST .search).

    Without `cursor` it pages by index, our defaultPaginationMethod; with one,
    by cursor (RFC 9865), whose cursors belong to this org, resource and query.
    """
    text = _text(params, "filter")
    filter_ = parse_filter(text) if text else None
    sort = _sort(params)
    projection = Projection.from_params(
        _text(params, "attributes"), _text(params, "excludedAttributes")
    )
    if "cursor" not in params:
        page = _index_page(params, request.app[SETTINGS].max_page_size)
        return ListParams(filter_, sort, page, projection)
    query = CursorQuery(org_id(request), resource, filter_, sort)
    return ListParams(filter_, sort, _cursor_page(request, query, params), projection, query)


async def search_params(request: web.Request, resource: str) -> ListParams:
    """The parameters of a POST .search (RFC 7644 §3.4.3; cursors, RFC 9865 §3)."""
    body = await read_object(request)
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or SEARCH_REQUEST_SCHEMA not in schemas:
        raise errors.InvalidSyntax(f"a search request must declare {SEARCH_REQUEST_SCHEMA}")
    return list_params(request, body, resource)


def projection(request: web.Request) -> Projection:
    return Projection.from_params(
        request.query.get("attributes"), request.query.get("excludedAttributes")
    )
