"""The request log's rows: batched inserts, newest-first pages, stats and the purge."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

from identity_svc.domain.request_log import (
    FAILURE_STATUS,
    STATS_WINDOW,
    RequestEntry,
    RequestQuery,
    RequestStats,
    resource_of,
)

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

_COLUMNS = (
    "org_id, time, id, method, route, resource_id, status, scim_type, latency_ms,"
    " idp, key_id, request_id, error_detail, masked_body"
)

# One statement per batch; entries of an org that does not exist are dropped
# by the join (the gateway records every URL, whatever org it names).
_INSERT = """
INSERT INTO request_log (
    org_id, time, method, route, resource, resource_id, status, scim_type,
    latency_ms, idp, key_id, request_id, error_detail, masked_body
)
SELECT e.org_id, e.time, e.method, e.route, e.resource, e.resource_id, e.status,
    e.scim_type, e.latency_ms, e.idp, e.key_id, e.request_id, e.error_detail, e.masked_body
FROM unnest(
    $1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
    $7::smallint[], $8::text[], $9::float8[], $10::text[], $11::text[], $12::text[],
    $13::text[], $14::text[]
) AS e(
    org_id, time, method, route, resource, resource_id, status, scim_type,
    latency_ms, idp, key_id, request_id, error_detail, masked_body
)
JOIN orgs o ON o.org_id = e.org_id
"""

# A page's statement holds exactly the filters the query gives, each a fixed
# fragment with its value as a parameter: the planner then sees plain
# conditions it can walk an index for (org_id, <filter>, time, id) newest first,
# in custom and generic plans alike, never an "empty means any" OR that hides
# which index applies. Five filters make at most 32 statements.
_PAGE = """
SELECT {columns}
FROM request_log
WHERE org_id = $1{conditions}
ORDER BY time DESC, id DESC
LIMIT {limit}
"""

_OUTCOMES = {"failure": f"status >= {FAILURE_STATUS}", "success": f"status < {FAILURE_STATUS}"}


def page_statement(query: RequestQuery, limit: int) -> tuple[str, list[object]]:
    """The statement of one page of `query` and its arguments."""
    args: list[object] = [query.org_id]

    def param(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    conditions = []
    if query.outcome:
        conditions.append(_OUTCOMES[query.outcome])
    for column in ("method", "resource", "idp"):
        if value := getattr(query, column):
            conditions.append(f"{column} = {param(value)}")
    if query.before is not None:
        before_time, before_id = query.before
        conditions.append(f"(time, id) < ({param(before_time)}, {param(before_id)})")
    where = "".join(f"\n  AND {c}" for c in conditions)
    statement = _PAGE.format(columns=_COLUMNS, conditions=where, limit=param(limit))
    return statement, args


_SELECT_LAST_SUCCESS = f"""
SELECT time
FROM request_log
WHERE org_id = $1 AND status < {FAILURE_STATUS}
ORDER BY time DESC, id DESC
LIMIT 1
"""

_SELECT_LAST_ERROR = f"""
SELECT {_COLUMNS}
FROM request_log
WHERE org_id = $1 AND status >= {FAILURE_STATUS}
ORDER BY time DESC, id DESC
LIMIT 1
"""

_COUNT_SINCE = f"""
SELECT count(*) AS requests,
    count(*) FILTER (WHERE status >= {FAILURE_STATUS}) AS errors
FROM request_log
WHERE org_id = $1 AND time > clock_timestamp() - $2::interval
"""

_SELECT_ORG_IDS = """
SELECT org_id
FROM orgs
ORDER BY org_id
"""

# The newest entry beyond the per-org cap: it and everything older go.
_SELECT_CAP_BOUNDARY = """
SELECT time, id
FROM request_log
WHERE org_id = $1
ORDER BY time DESC, id DESC
OFFSET $2
LIMIT 1
"""

# One bounded batch of the oldest entries before ($2, $3). SKIP LOCKED: a
# replica purging the same org at once takes other rows instead of waiting;
# what either leaves, the next pass takes.
_DELETE_BEFORE = """
DELETE FROM request_log
WHERE org_id = $1 AND (time, id) IN (
    SELECT time, id
    FROM request_log
    WHERE org_id = $1 AND (time, id) < ($2, $3)
    ORDER BY time, id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
)
"""


def _entry(row: asyncpg.Record) -> RequestEntry:
    return RequestEntry(
        org_id=row["org_id"],
        time=row["time"],
        id=row["id"],
        method=row["method"],
        route=row["route"],
        resource_id=row["resource_id"],
        status=row["status"],
        scim_type=row["scim_type"],
        latency_ms=row["latency_ms"],
        idp=row["idp"],
        key_id=row["key_id"],
        request_id=row["request_id"],
        error_detail=row["error_detail"],
        masked_body=row["masked_body"],
    )


def _deleted(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])  # "DELETE n"


class RequestLogRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def insert(self, entries: Sequence[RequestEntry]) -> int:
        """Store `entries` of known orgs; how many were stored."""
        status = await self._conn.execute(
            _INSERT,
            [e.org_id for e in entries],
            [e.time for e in entries],
            [e.method for e in entries],
            [e.route for e in entries],
            [resource_of(e.route) for e in entries],
            [e.resource_id for e in entries],
            [e.status for e in entries],
            [e.scim_type for e in entries],
            [e.latency_ms for e in entries],
            [e.idp for e in entries],
            [e.key_id for e in entries],
            [e.request_id for e in entries],
            [e.error_detail for e in entries],
            [e.masked_body for e in entries],
        )
        return int(status.rsplit(" ", 1)[-1])  # "INSERT 0 n"

    async def page(self, query: RequestQuery, limit: int) -> list[RequestEntry]:
        """At most `limit` entries matching `query`, newest first."""
        statement, args = page_statement(query, limit)
        rows = await self._conn.fetch(statement, *args)
        return [_entry(r) for r in rows]

    async def stats(self, org_id: str) -> RequestStats:
        last_success = await self._conn.fetchval(_SELECT_LAST_SUCCESS, org_id)
        last_error = await self._conn.fetchrow(_SELECT_LAST_ERROR, org_id)
        counts = await self._conn.fetchrow(_COUNT_SINCE, org_id, STATS_WINDOW)
        return RequestStats(
            last_success=last_success,
            last_error=_entry(last_error) if last_error is not None else None,
            requests_24h=counts["requests"] if counts else 0,
            errors_24h=counts["errors"] if counts else 0,
        )

    async def org_ids(self) -> list[str]:
        return [r["org_id"] for r in await self._conn.fetch(_SELECT_ORG_IDS)]

    async def purge_boundary(
        self, org_id: str, older_than: datetime, keep: int
    ) -> tuple[datetime, int]:
        """(time, id) before which the org's entries go: too old, or beyond the newest `keep`."""
        row = await self._conn.fetchrow(_SELECT_CAP_BOUNDARY, org_id, keep)
        if row is None or row["time"] < older_than:
            return older_than, 0  # ids start at 1: (time, id) < (older_than, 0) is time < it
        return row["time"], row["id"] + 1

    async def delete_before(self, org_id: str, boundary: tuple[datetime, int], limit: int) -> int:
        """Delete at most `limit` of the org's oldest entries before `boundary`; how many."""
        status = await self._conn.execute(_DELETE_BEFORE, org_id, *boundary, limit)
        return _deleted(status)
