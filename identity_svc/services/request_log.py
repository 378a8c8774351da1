"""The request log's use cases: the gateway records, Org Admins read (issue 12)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from identity_svc.db.orgs import OrgsRepository
from identity_svc.db.request_log import RequestLogRepository
from identity_svc.domain.errors import InvalidCursor
from identity_svc.domain.models import Actor
from identity_svc.domain.request_log import (
    DEFAULT_COUNT,
    MAX_COUNT,
    RequestEntry,
    RequestQuery,
    RequestStats,
)
from identity_svc.services.roles import require_org_admin
from identity_svc.services.transactions import run_read

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

# What one entry may hold, whatever a caller sends: the gateway already cuts
# bodies to 4 KiB, and the rest are short by nature.
_LIMITS = {
    "method": 16,
    "route": 200,
    "resource_id": 200,
    "scim_type": 64,
    "key_id": 64,
    "request_id": 128,
    "error_detail": 2048,
    "masked_body": 8192,
}
_HTTP_STATUSES = (100, 599)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _bounded(entry: RequestEntry) -> RequestEntry:
    cut = {name: getattr(entry, name)[:limit] for name, limit in _LIMITS.items()}
    idp = entry.idp if entry.idp in ("okta", "entra") else "other"
    return replace(entry, idp=idp, **cut)


async def record_requests(pool: asyncpg.Pool, entries: Sequence[RequestEntry]) -> int:
    """Store a gateway's batch in one statement; how many were stored.

    Entries of unknown orgs, or with no HTTP status, are dropped rather than
    failing the batch. gRPC's message size limit bounds a batch; one
    statement takes any that fits.
    """
    kept = [_bounded(e) for e in entries if _HTTP_STATUSES[0] <= e.status <= _HTTP_STATUSES[1]]
    if not kept:
        return 0
    async with pool.acquire() as conn:
        return await RequestLogRepository(conn).insert(kept)


def encode_cursor(entry: RequestEntry) -> str:
    micros = (entry.time - _EPOCH) // _MICROSECOND
    return base64.urlsafe_b64encode(f"{micros}.{entry.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (time, id) a cursor of ours names; anything else is InvalidCursor."""
    try:
        micros, _, entry_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition(".")
        return _EPOCH + int(micros) * _MICROSECOND, int(entry_id)
    except (ValueError, binascii.Error, OverflowError) as exc:
        raise InvalidCursor("the cursor is not one this service gave") from exc


def request_query(
    org_id: str, *, outcome: str, method: str, resource: str, idp: str, count: int, cursor: str
) -> RequestQuery:
    """ListRequests' query: count 0 is the default, above the maximum it is the maximum."""
    return RequestQuery(
        org_id=org_id,
        outcome=outcome.lower(),
        method=method.upper(),
        resource=resource.lower(),
        idp=idp.lower(),
        count=min(count or DEFAULT_COUNT, MAX_COUNT),
        before=decode_cursor(cursor) if cursor else None,
    )


async def _org_admin(conn: Connection, org_id: str, actor: Actor) -> None:
    await OrgsRepository(conn).get(org_id)
    await require_org_admin(conn, org_id, actor)


async def list_requests(
    pool: asyncpg.Pool, actor: Actor, query: RequestQuery
) -> tuple[list[RequestEntry], str]:
    """A page newest first, and the cursor of the older entries ("" at the end)."""

    async def work(conn: Connection) -> tuple[list[RequestEntry], str]:
        await _org_admin(conn, query.org_id, actor)
        # One more than asked tells whether older entries remain.
        entries = await RequestLogRepository(conn).page(query, limit=query.count + 1)
        if len(entries) <= query.count:
            return entries, ""
        page = entries[: query.count]
        return page, encode_cursor(page[-1])

    return await run_read(pool, work)


async def request_stats(pool: asyncpg.Pool, actor: Actor, org_id: str) -> RequestStats:
    async def work(conn: Connection) -> RequestStats:
        await _org_admin(conn, org_id, actor)
        return await RequestLogRepository(conn).stats(org_id)

    return await run_read(pool, work)
