"""The append-only change log (SPEC §6), written in the changing transaction.

Sequences are reserved by the last statement before commit, an UPDATE of the
org row: the row lock it takes is held until commit, so a later transaction of
the same org gets a higher sequence only after this one is visible. Consumers
therefore never see sequence n+1 before n.

The same statement queues a NOTIFY on `EVENTS_CHANNEL` ("org_id:last_seq").
Postgres delivers it only after commit, in commit order, so a listener that
re-reads `seq > last` when woken finds the new rows already visible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from identity_svc.domain.errors import NotFound
from identity_svc.metrics import EVENTS_WRITTEN

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

EVENTS_CHANNEL = "graphos_events"

# One round trip: the NOTIFY rides on the reservation (delivered at commit).
_RESERVE_SEQUENCES = f"""
WITH reserved AS (
    UPDATE orgs
    SET event_seq = event_seq + $2
    WHERE org_id = $1
    RETURNING event_seq
)
SELECT event_seq, pg_notify('{EVENTS_CHANNEL}', $1 || ':' || event_seq)
FROM reserved
"""

_INSERT_EVENTS = """
INSERT INTO events (org_id, seq, type, resource_type, resource_id, actor, request_id, data)
SELECT $1, e.seq, e.type, e.resource_type, e.resource_id, $2, $3, e.data::jsonb
FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[])
    AS e(seq, type, resource_type, resource_id, data)
"""

_SELECT_AFTER = """
SELECT org_id, seq, type, resource_type, resource_id, actor, request_id, occurred_at, data
FROM events
WHERE org_id = $1 AND seq > $2
ORDER BY seq
LIMIT $3
"""

# event_seq is written in the same transaction as the events it numbers, so
# a committed value is exactly the org's last visible sequence.
_SELECT_POSITION = """
SELECT event_seq
FROM orgs
WHERE org_id = $1
"""

_SELECT_POSITIONS = """
SELECT org_id, event_seq
FROM orgs
"""


@dataclass(frozen=True)
class PendingEvent:
    org_id: str
    type: str
    resource_type: str
    resource_id: str
    data: dict[str, Any] = field(default_factory=dict)


async def append_events(
    conn: Connection, events: list[PendingEvent], actor: str, request_id: str
) -> None:
    """Write `events` with fresh sequences; call last in the transaction."""
    for org_id in sorted({e.org_id for e in events}):
        batch = [e for e in events if e.org_id == org_id]
        last = await conn.fetchval(_RESERVE_SEQUENCES, org_id, len(batch))
        first = last - len(batch) + 1
        await conn.execute(
            _INSERT_EVENTS,
            org_id,
            actor,
            request_id,
            list(range(first, last + 1)),
            [e.type for e in batch],
            [e.resource_type for e in batch],
            [e.resource_id for e in batch],
            [json.dumps(e.data) for e in batch],
        )
    for event in events:
        EVENTS_WRITTEN.labels(event.type).inc()


@dataclass(frozen=True)
class Event:
    """One committed row of the change log."""

    org_id: str
    seq: int
    type: str
    resource_type: str
    resource_id: str
    actor: str
    request_id: str
    occurred_at: datetime
    data: dict[str, Any]


def _event(row: asyncpg.Record) -> Event:
    data = row["data"]
    return Event(
        org_id=row["org_id"],
        seq=row["seq"],
        type=row["type"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        actor=row["actor"],
        request_id=row["request_id"],
        occurred_at=row["occurred_at"],
        # The pool decodes jsonb; a bare connection hands back its text.
        data=json.loads(data) if isinstance(data, str) else data,
    )


class EventsRepository:
    """Reads of the change log and of each org's last sequence."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def after(self, org_id: str, seq: int, limit: int) -> list[Event]:
        """Up to `limit` events of `org_id` with a sequence above `seq`, in order."""
        rows = await self._conn.fetch(_SELECT_AFTER, org_id, seq, limit)
        return [_event(row) for row in rows]

    async def position(self, org_id: str) -> int:
        """The org's last committed sequence; NotFound for an unknown org."""
        seq = await self._conn.fetchval(_SELECT_POSITION, org_id)
        if seq is None:
            raise NotFound(f"org {org_id} not found")
        return int(seq)

    async def positions(self) -> dict[str, int]:
        """Every org's last committed sequence."""
        rows = await self._conn.fetch(_SELECT_POSITIONS)
        return {row["org_id"]: int(row["event_seq"]) for row in rows}
