"""The append-only change log (SPEC §6), written in the changing transaction.

Sequences are reserved by the last statement before commit, an UPDATE of the
org row: the row lock it takes is held until commit, so a later transaction of
the same org gets a higher sequence only after this one is visible. Consumers
therefore never see sequence n+1 before n.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

_RESERVE_SEQUENCES = """
UPDATE orgs
SET event_seq = event_seq + $2
WHERE org_id = $1
RETURNING event_seq
"""

_INSERT_EVENTS = """
INSERT INTO events (org_id, seq, type, resource_type, resource_id, actor, request_id, data)
SELECT $1, e.seq, e.type, e.resource_type, e.resource_id, $2, $3, e.data::jsonb
FROM unnest($4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[])
    AS e(seq, type, resource_type, resource_id, data)
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
