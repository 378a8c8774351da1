"""Filtered, sorted, paginated listings of users or groups, all in SQL.

Index pagination (RFC 7644 §3.4.2.4) and cursor pagination (RFC 9865). In the
default order (created, id) a cursor is a keyset position, so a walk neither
skips nor repeats rows while others are inserted; with an explicit sortBy it
carries the offset.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filters import Resource, SqlParams, compile_filter, order_by
from identity_svc.domain.errors import InvalidCursor

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

_FROM = {Resource.USERS: "users u", Resource.GROUPS: "groups g"}
_ALIAS = {Resource.USERS: "u", Resource.GROUPS: "g"}


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
        created = datetime.fromisoformat(str(payload["c"]))
        last_id = uuid.UUID(str(payload["i"]))
    except (KeyError, ValueError) as exc:
        raise InvalidCursor("the cursor is not one this server issued") from exc
    return f"({alias}.created, {alias}.id) > ({params.add(created)}, {params.add(last_id)})"


def _cursor_offset(cursor: str) -> int:
    offset = _decode_cursor(cursor).get("o")
    if not isinstance(offset, int) or offset < 0:
        raise InvalidCursor("the cursor does not apply to this sort order")
    return offset


def _page_size(requested: int | None, max_page_size: int) -> int:
    if requested is None:
        return max_page_size
    return max(0, min(requested, max_page_size))


async def list_rows(
    conn: Connection,
    resource: Resource,
    org_id: str,
    columns: str,
    request: pb.ListUsersRequest | pb.ListGroupsRequest,
    max_page_size: int,
) -> ListedRows:
    alias = _ALIAS[resource]
    params = SqlParams(org_id)
    where = f"{alias}.org_id = $1"
    if request.HasField("filter"):
        where += f" AND ({compile_filter(resource, request.filter, params)})"
    sort = request.sort if request.HasField("sort") and request.sort.by.attribute else None
    order = order_by(resource, sort)

    total = await conn.fetchval(
        f"SELECT count(*) FROM {_FROM[resource]} WHERE {where}", *params.args
    )

    page = request.page
    keyset = ""
    if page.HasField("cursor"):
        count = _page_size(
            page.cursor.count if page.cursor.HasField("count") else None, max_page_size
        )
        offset = 0
        if page.cursor.cursor and sort is None:
            keyset = " AND " + _keyset_condition(page.cursor.cursor, alias, params)
        elif page.cursor.cursor:
            offset = _cursor_offset(page.cursor.cursor)
    else:
        count = _page_size(
            page.index.count if page.index.HasField("count") else None, max_page_size
        )
        offset = max(page.index.start_index, 1) - 1

    if count == 0:
        return ListedRows(total, [], offset + 1, "")
    query = (
        f"SELECT {columns} FROM {_FROM[resource]} WHERE {where}{keyset} "
        f"ORDER BY {order} LIMIT {params.add(count + 1)} OFFSET {params.add(offset)}"
    )
    rows = await conn.fetch(query, *params.args)
    more, rows = len(rows) > count, rows[:count]
    next_cursor = ""
    if page.HasField("cursor") and more:
        last = rows[-1]
        next_cursor = _encode_cursor(
            {"c": last["created"].isoformat(), "i": str(last["id"])}
            if sort is None
            else {"o": offset + count}
        )
    return ListedRows(total, rows, offset + 1, next_cursor)
