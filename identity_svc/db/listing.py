"""Filtered, sorted, paginated listings of users or groups, all in SQL.

Index pagination (RFC 7644 §3.4.2.4) and cursor pagination (RFC 9865). In the
default order (created, id) both read by keyset where they can, so a page
costs the same at any depth of the org: a cursor carries its position, and a
sequential index walk (Okta's import) finds the previous page's in db/walks.py;
a random startIndex, or an explicit sortBy, reads by OFFSET. A cursor with an
explicit sortBy carries the offset.

The total of an unfiltered listing is the sum of the org's counters (kept by
triggers, migration 0003); a filtered one is counted, bounded by the filter.
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
from identity_svc.db.filter_attributes import Resource
from identity_svc.db.filters import SqlParams, compile_filter, order_by
from identity_svc.db.walks import Position, WalkMark, find_position, mark, walk_key
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
class Scope:
    """A server-side condition beside the tenant's; `key` tells walks of scopes apart."""

    key: str
    condition: Callable[[SqlParams], str]


@dataclass(frozen=True)
class ListedRows:
    total_results: int
    rows: list[asyncpg.Record]
    start_index: int
    next_cursor: str = ""
    previous_cursor: str = ""
    # Where the next page of this index walk continues; for the caller to
    # remember once the read has committed (db/walks.remember_walk).
    walk: WalkMark | None = None


def _encode_cursor(payload: dict[str, str | int | bool]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, object]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("the cursor is not one this server issued") from exc
    if not isinstance(payload, dict):
        raise InvalidCursor("the cursor is not one this server issued")
    return payload


def _cursor_position(payload: dict[str, object]) -> tuple[Position, bool]:
    """A keyset cursor's position, and whether it asks for the rows before it."""
    backward = payload.get("b", False)
    try:
        created = datetime.fromisoformat(str(payload["c"])).astimezone(UTC)
        last_id = uuid.UUID(str(payload["i"]))
    except (KeyError, ValueError, OverflowError) as exc:
        raise InvalidCursor("the cursor is not one this server issued") from exc
    if not isinstance(backward, bool):
        raise InvalidCursor("the cursor is not one this server issued")
    return Position(created, last_id), backward


def _keyset_cursor(row: asyncpg.Record, backward: bool = False) -> str:
    payload: dict[str, str | int | bool] = {"c": row["created"].isoformat(), "i": str(row["id"])}
    if backward:
        payload["b"] = True
    return _encode_cursor(payload)


def _cursor_offset(payload: dict[str, object]) -> int:
    offset = payload.get("o")
    if not isinstance(offset, int) or not 0 <= offset <= _MAX_OFFSET:
        raise InvalidCursor("the cursor does not apply to this sort order")
    return offset


def _page_size(requested: int | None, max_page_size: int) -> int:
    if requested is None:
        return max_page_size
    return max(0, min(requested, max_page_size))


def _beyond(alias: str, params: SqlParams, position: Position, backward: bool) -> str:
    """Rows after (or, backward, before) `position` in the default order."""
    op = "<" if backward else ">"
    created, last_id = params.add(position.created), params.add(position.id)
    return f" AND ({alias}.created, {alias}.id) {op} ({created}, {last_id})"


@dataclass(frozen=True)
class _Window:
    """Which rows of the ordered result a page asks for."""

    count: int
    offset: int = 0
    start_index: int = 1
    keyset: str = ""  # an extra condition: rows beyond a position
    by_cursor: bool = False
    by_offset: bool = False  # a cursor page of an explicit sortBy
    after_cursor: bool = False  # a page reached from another one's cursor
    backward: bool = False  # the `count` rows before a position, read in reverse


async def _index_window(
    conn: Connection,
    org_id: str,
    index: pb.IndexPage,
    key: bytes | None,
    alias: str,
    params: SqlParams,
    max_page_size: int,
) -> _Window:
    count = _page_size(index.count if index.HasField("count") else None, max_page_size)
    start = max(index.start_index, 1)
    if key is not None and start > 1 and count > 0:
        position = await find_position(conn, org_id, key, start)
        if position is not None:  # the next page of a walk: no OFFSET
            return _Window(count, 0, start, _beyond(alias, params, position, False))
    return _Window(count, start - 1, start)


def _cursor_window(
    cursor: pb.CursorPage, sorted_: bool, alias: str, params: SqlParams, max_page_size: int
) -> _Window:
    count = _page_size(cursor.count if cursor.HasField("count") else None, max_page_size)
    payload = _decode_cursor(cursor.cursor) if cursor.cursor else None
    if sorted_:
        offset = 0 if payload is None else _cursor_offset(payload)
        return _Window(count, offset, by_cursor=True, by_offset=True)
    if payload is None:
        return _Window(count, by_cursor=True)
    position, backward = _cursor_position(payload)
    keyset = _beyond(alias, params, position, backward)
    return _Window(count, 0, 1, keyset, by_cursor=True, after_cursor=True, backward=backward)


def _cursors(rows: list[asyncpg.Record], more: bool, window: _Window) -> tuple[str, str]:
    """(nextCursor, previousCursor) of a cursor page; empty where there is none."""
    if window.by_offset:
        after = _encode_cursor({"o": window.offset + window.count}) if more else ""
        before = _encode_cursor({"o": max(window.offset - window.count, 0)})
        return after, before if window.offset else ""
    if not rows:
        return "", ""
    if window.backward:  # `more` means rows before this page; the next one is known
        return _keyset_cursor(rows[-1]), _keyset_cursor(rows[0], True) if more else ""
    after = _keyset_cursor(rows[-1]) if more else ""
    return after, _keyset_cursor(rows[0], True) if window.after_cursor else ""


def _where(
    resource: Resource,
    alias: str,
    request: pb.ListUsersRequest | pb.ListGroupsRequest,
    params: SqlParams,
    scope: Scope | None,
) -> str:
    where = f"{alias}.org_id = $1"
    if scope is not None:
        where += f" AND {scope.condition(params)}"
    if request.HasField("filter"):
        where += f" AND ({compile_filter(resource, request.filter, params)})"
    return where


async def _total(
    conn: Connection, resource: Resource, where: str, params: SqlParams, unfiltered: bool
) -> int:
    if unfiltered:  # the org's counters: the same cost at any size
        return int(await conn.fetchval(_TOTAL_FROM_COUNTERS, params.args[0], resource.value))
    sql = f"SELECT count(*) FROM {_FROM[resource]} WHERE {where}"
    return int(await conn.fetchval(sql, *params.args))


async def _fetch_page(
    conn: Connection, select: str, order: str, window: _Window, params: SqlParams
) -> tuple[list[asyncpg.Record], bool]:
    """The window's rows in the listing's order, and whether more lie beyond them."""
    # One row more than asked tells whether there is a next (backward: previous) page.
    sql = f"{select}{window.keyset} ORDER BY {order} LIMIT {params.add(window.count + 1)}"
    if window.offset:
        sql += f" OFFSET {params.add(window.offset)}"
    rows = await conn.fetch(sql, *params.args)
    more, rows = len(rows) > window.count, rows[: window.count]
    if window.backward:
        rows.reverse()
    return rows, more


async def list_rows(
    conn: Connection,
    resource: Resource,
    org_id: str,
    columns: str,
    request: pb.ListUsersRequest | pb.ListGroupsRequest,
    max_page_size: int,
    scope: Scope | None = None,
) -> ListedRows:
    """One page of the org's rows matching the request's filter, and their total.

    `scope` adds a server-side condition (e.g. members of one group) beside
    the tenant's, outside the client's filter.
    """
    alias, source = _ALIAS[resource], _FROM[resource]
    params = SqlParams(org_id)
    where = _where(resource, alias, request, params, scope)
    sort = request.sort if request.HasField("sort") and request.sort.by.attribute else None
    order = order_by(resource, sort)
    unfiltered = scope is None and not request.HasField("filter")
    total = await _total(conn, resource, where, params, unfiltered)
    key = None
    if request.page.HasField("cursor"):
        window = _cursor_window(request.page.cursor, sort is not None, alias, params, max_page_size)
    else:
        key = None if sort else walk_key(resource, scope.key if scope else "", request)
        index = request.page.index
        window = await _index_window(conn, org_id, index, key, alias, params, max_page_size)
    if window.count == 0:
        return ListedRows(total, [], window.start_index)
    if window.backward:
        order = f"{alias}.created DESC, {alias}.id DESC"
    select = f"SELECT {columns} FROM {source} WHERE {where}"
    rows, more = await _fetch_page(conn, select, order, window, params)
    if window.by_cursor:
        return ListedRows(total, rows, 1, *_cursors(rows, more, window))
    walk = None
    if key is not None and more:
        last = Position(rows[-1]["created"], rows[-1]["id"])
        walk = mark(org_id, key, window.start_index, window.count, last, max_page_size)
    return ListedRows(total, rows, window.start_index, walk=walk)
