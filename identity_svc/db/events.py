"""The append-only change log (SPEC §6): staged by writers, numbered by the sequencer.

A writing transaction stages its events as its last statement (`append_events`):
an insert into `event_staging` without a sequence. It takes no lock that another
write of the org needs and sends no NOTIFY, so writes of one org commit side by
side instead of queueing on the org row through commit.

The process's sequencer (identity_svc/sequencer.py) then calls `sequence_org`,
one short transaction per org: it locks the org row, moves the staged rows
committed by then into `events`, numbered on from `orgs.event_seq` in staging
order, bumps `event_seq`, and NOTIFYs `EVENTS_CHANNEL` ("org_id:last_seq") once.
Why consumers reading `seq > last` then miss nothing and see nothing twice:

- only committed rows are moved (a statement sees only committed rows), and
  every row it numbers becomes visible in one commit, with `event_seq`;
- sequencers of every process take the org row lock first and read the
  staged rows in the next statement, whose snapshot therefore includes the
  previous holder's commit: a row staged later is numbered later, higher;
- the row lock is released only once that commit is visible to every new
  snapshot, so no snapshot sees seq n+1 without n.

Staging order is the WAL insert position read by the staging statement, then
the transaction, then the event's place in it. A write that saw another's
effects (it read them, or waited on its row locks) stages after that write's
commit record, so it is numbered after it even when both wait in one batch;
that is why staging must be the transaction's last statement. Writes that saw
nothing of each other are ordered by where each staged.
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

# The WAL position is read once for the statement (a materialized CTE), so
# all of a write's events share it and `position` orders them.
_STAGE_EVENTS = """
WITH staged AS MATERIALIZED (
    SELECT pg_current_wal_insert_lsn() AS lsn, pg_current_xact_id() AS xid
)
INSERT INTO event_staging (
    org_id, staged_lsn, staged_xid, position,
    type, resource_type, resource_id, actor, request_id, data
)
SELECT e.org_id, s.lsn, s.xid, e.position,
    e.type, e.resource_type, e.resource_id, $1, $2, e.data::jsonb
FROM staged s,
    unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
        WITH ORDINALITY AS e(org_id, type, resource_type, resource_id, data, position)
"""

# The sequencer's lock: only sequencers lock the org row on the write path
# (org settings updates take it too, briefly). NO KEY UPDATE, not UPDATE:
# every write's foreign keys hold KEY SHARE on the org row until it commits,
# which FOR UPDATE would wait for (and make new writes wait behind).
_LOCK_ORG_SEQUENCE = """
SELECT event_seq
FROM orgs
WHERE org_id = $1
FOR NO KEY UPDATE
"""

# Runs after _LOCK_ORG_SEQUENCE, in a statement of its own: its snapshot then
# includes every earlier sequencer's commit. $2 is event_seq read under the lock.
_SEQUENCE_STAGED = """
WITH batch AS (
    DELETE FROM event_staging
    WHERE org_id = $1
      AND (staged_lsn, staged_xid, position) IN (
          SELECT staged_lsn, staged_xid, position
          FROM event_staging
          WHERE org_id = $1
          ORDER BY staged_lsn, staged_xid, position
          LIMIT $3
      )
    RETURNING staged_lsn, staged_xid, position,
        type, resource_type, resource_id, actor, request_id, occurred_at, data
),
numbered AS (
    INSERT INTO events (
        org_id, seq, type, resource_type, resource_id, actor, request_id, occurred_at, data
    )
    SELECT $1, $2 + row_number() OVER (ORDER BY staged_lsn, staged_xid, position),
        type, resource_type, resource_id, actor, request_id, occurred_at, data
    FROM batch
    RETURNING seq
)
UPDATE orgs
SET event_seq = (SELECT max(seq) FROM numbered)
WHERE org_id = $1 AND EXISTS (SELECT FROM numbered)
RETURNING event_seq, (SELECT count(*) FROM numbered) AS numbered
"""

# Its own statement, so that on Citus it runs on the coordinator, where the
# identity services LISTEN; delivered at commit, after the rows are visible.
_NOTIFY = "SELECT pg_notify($1, $2)"

_STAGED_ORGS = """
SELECT DISTINCT org_id
FROM event_staging
"""

_SELECT_AFTER = """
SELECT org_id, seq, type, resource_type, resource_id, actor, request_id, occurred_at, data
FROM events
WHERE org_id = $1 AND seq > $2
ORDER BY seq
LIMIT $3
"""

# The sequencer bumps event_seq in the transaction that numbers the events, so
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
    """Stage `events` for the sequencer; call last in the transaction (see above)."""
    await conn.execute(
        _STAGE_EVENTS,
        actor,
        request_id,
        [e.org_id for e in events],
        [e.type for e in events],
        [e.resource_type for e in events],
        [e.resource_id for e in events],
        [json.dumps(e.data) for e in events],
    )
    for event in events:
        EVENTS_WRITTEN.labels(event.type).inc()


async def sequence_org(conn: Connection, org_id: str, limit: int) -> int:
    """Number up to `limit` committed staged events of `org_id`, in one transaction.

    Returns how many it numbered (0: nothing was staged).
    """
    async with conn.transaction():
        base = await conn.fetchval(_LOCK_ORG_SEQUENCE, org_id)
        if base is None:  # no such org: nothing can be staged for it
            return 0
        row = await conn.fetchrow(_SEQUENCE_STAGED, org_id, base, limit)
        if row is None:
            return 0
        await conn.execute(_NOTIFY, EVENTS_CHANNEL, f"{org_id}:{row['event_seq']}")
        return int(row["numbered"])


async def staged_orgs(conn: Connection) -> list[str]:
    """Orgs with committed events not numbered yet."""
    return [row["org_id"] for row in await conn.fetch(_STAGED_ORGS)]


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
