"""Filtered, sorted, paginated listings of users or groups, all in SQL.

Index pagination (RFC 7644 §3.4.2.4) and cursor pagination (RFC 9865). In the
default order (created, id) a cursor is a keyset position, so a walk neither
skips nor repeats rows while others are inserted; with an explicit sortBy it
carries the offset. The total of an unfiltered listing is the sum of the
org's counters (kept by triggers, migration 0003); a filtered one is counted,
bounded by the filter.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import asyncpg

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filters import Resource, SqlParams, compile_filter, order_by
from identity_svc.domain.errors import InvalidCursor

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

# Offsets travel as Postgres bigint; a crafted cursor must not overflow one.
_MAX_OFFSET = 2**62

_FROM = {Resource.USERS: "users u", Resource.GROUPS: "groups g"}
_ALIAS = {Resource.USERS: "u", Resource.GROUPS: "g"}

_TOTAL_FROM_COUNTERS = """
SELECT coalesce(sum(c.n), 0)::bigint
FROM org_counters c
WHERE c.org_id = $1 AND c.resource = $2
"""


@dataclass(frozen=True)
class ListedRows:
    total_results: int
    rows: list[asyncpg.Record]
    start_index: int
    next_cursor: str


def _encode_cursor(payload: dict[str, str | int]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, str | int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("the cursor is not one this server issued") from exc
    if not isinstance(payload, dict):
        raise InvalidCursor("the cursor is not one this server issued")
    return payload


def _keyset_condition(cursor: str, alias: str, params: SqlParams) -> str:
    payload = _decode_cursor(cursor)
    try:
        created = datetime.fromisoformat(str(payload["c"])).astimezone(UTC)
        last_id = uuid.UUID(str(payload["i"]))
    except (KeyError, ValueError, OverflowError) as exc:
        raise InvalidCursor("the cursor is not one this server issued") from exc
    return f"({alias}.created, {alias}.id) > ({params.add(created)}, {params.add(last_id)})"


def _cursor_offset(cursor: str) -> int:
    offset = _decode_cursor(cursor).get("o")
    if not isinstance(offset, int) or not 0 <= offset <= _MAX_OFFSET:
        raise InvalidCursor("the cursor does not apply to this sort order")
    return offset


def _page_size(requested: int | None, max_page_size: int) -> int:
    if requested is None:
        return max_page_size
    return max(0, min(requested, max_page_size))


@dataclass(frozen=True)
class _Window:
    """Which rows of the ordered result a page asks for."""

    count: int
    offset: int
    keyset: str = ""  # an extra condition: rows after a cursor's position
    by_cursor: bool = False


def _window(
    page: pb.Page, sorted_: bool, alias: str, params: SqlParams, max_page_size: int
) -> _Window:
    if not page.HasField("cursor"):
        index = page.index
        count = _page_size(index.count if index.HasField("count") else None, max_page_size)
        return _Window(count, max(index.start_index, 1) - 1)
    cursor = page.cursor
    count = _page_size(cursor.count if cursor.HasField("count") else None, max_page_size)
    if not cursor.cursor:
        return _Window(count, 0, by_cursor=True)
    if sorted_:
        return _Window(count, _cursor_offset(cursor.cursor), by_cursor=True)
    keyset = " AND " + _keyset_condition(cursor.cursor, alias, params)
    return _Window(count, 0, keyset, by_cursor=True)


def _next_cursor(last: asyncpg.Record, sorted_: bool, window: _Window) -> str:
    if sorted_:
        return _encode_cursor({"o": window.offset + window.count})
    return _encode_cursor({"c": last["created"].isoformat(), "i": str(last["id"])})


async def _total(
    conn: Connection, resource: Resource, where: str, params: SqlParams, unfiltered: bool
) -> int:
    if unfiltered:  # the org's counters: the same cost at any size
        return int(await conn.fetchval(_TOTAL_FROM_COUNTERS, params.args[0], resource.value))
    sql = f"SELECT count(*) FROM {_FROM[resource]} WHERE {where}"
    return int(await conn.fetchval(sql, *params.args))


async def list_rows(
    conn: Connection,
    resource: Resource,
    org_id: str,
    columns: str,
    request: pb.ListUsersRequest | pb.ListGroupsRequest,
    max_page_size: int,
    scope: Callable[[SqlParams], str] | None = None,
) -> ListedRows:
    """One page of the org's rows matching the request's filter, and their total.

    `scope` adds a server-side condition (e.g. members of one group) beside
    the tenant's, outside the client's filter.
    """
    alias, source = _ALIAS[resource], _FROM[resource]
    params = SqlParams(org_id)
    where = f"{alias}.org_id = $1"
    if scope is not None:
        where += f" AND {scope(params)}"
    if request.HasField("filter"):
        where += f" AND ({compile_filter(resource, request.filter, params)})"
    sort = request.sort if request.HasField("sort") and request.sort.by.attribute else None
    order = order_by(resource, sort)
    unfiltered = scope is None and not request.HasField("filter")
    total = await _total(conn, resource, where, params, unfiltered)

    window = _window(request.page, sort is not None, alias, params, max_page_size)
    if window.count == 0:
        return ListedRows(total, [], window.offset + 1, "")
    # One row more than asked tells whether there is a next page.
    limit, offset = params.add(window.count + 1), params.add(window.offset)
    rows = await conn.fetch(
        f"SELECT {columns} FROM {source} WHERE {where}{window.keyset} "
        f"ORDER BY {order} LIMIT {limit} OFFSET {offset}",
        *params.args,
    )
    more, rows = len(rows) > window.count, rows[: window.count]
    next_cursor = (
        _next_cursor(rows[-1], sort is not None, window) if window.by_cursor and more else ""
    )
    return ListedRows(total, rows, window.offset + 1, next_cursor)
