"""The deprovisioning brake's rows: an org's brake and the deprovisions in its window.

`lock` is the serialization point: it holds the org's brake row (made on
first use) for the rest of the transaction, so concurrent deprovisions of one
org, from any replica, are counted one after the other. Callers take it as
the last lock of their write: nothing waits for another lock while holding it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import asyncpg

from identity_svc.db.pool import one
from identity_svc.domain.brake import BrakeSettings, BrakeState

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

_COLUMNS = """b.enabled, b.floor, b.share_percent, b.window_seconds, b.budget, b.budget_until,
    b.tripped_at, b.tripped_data, b.counted_from, b.allowance, b.off_until,
    clock_timestamp() AS now"""

# Made if missing and locked in one statement (DO UPDATE locks the row).
_LOCK = f"""
INSERT INTO deprovisioning_brakes AS b (org_id)
VALUES ($1)
ON CONFLICT (org_id) DO UPDATE SET org_id = EXCLUDED.org_id
RETURNING {_COLUMNS}
"""

_SELECT = f"""
SELECT {_COLUMNS}
FROM deprovisioning_brakes b
WHERE b.org_id = $1
"""

_IN_WINDOW = """
SELECT count(*)
FROM deprovisions
WHERE org_id = $1 AND at > $2
"""

_ACTIVE_MEMBERS = """
SELECT count(*)
FROM users
WHERE org_id = $1 AND active
"""

_CACHE_BUDGET = """
UPDATE deprovisioning_brakes
SET budget = $2, budget_until = $3
WHERE org_id = $1
"""

_RECORD = """
INSERT INTO deprovisions (org_id, user_id, kind)
SELECT $1, d.user_id, $3
FROM unnest($2::uuid[]) AS d(user_id)
"""

_CONSUME_ALLOWANCE = """
UPDATE deprovisioning_brakes
SET allowance = allowance - $2
WHERE org_id = $1
"""

_FORGET_BEFORE = """
DELETE FROM deprovisions
WHERE org_id = $1 AND at <= $2
"""

# Only the first refusal trips it (and writes the event); the allowance of an
# earlier release ends with it.
_TRIP = """
UPDATE deprovisioning_brakes
SET tripped_at = clock_timestamp(), tripped_data = $2, allowance = 0
WHERE org_id = $1 AND tripped_at IS NULL
RETURNING tripped_at
"""

_RELEASE = f"""
INSERT INTO deprovisioning_brakes AS b (org_id, counted_from, allowance, off_until)
VALUES ($1, clock_timestamp(), $2, clock_timestamp() + $3::interval)
ON CONFLICT (org_id) DO UPDATE
SET tripped_at = NULL, tripped_data = NULL, counted_from = EXCLUDED.counted_from,
    allowance = EXCLUDED.allowance, off_until = EXCLUDED.off_until,
    budget = NULL, budget_until = NULL
RETURNING {_COLUMNS}
"""

_CONFIGURE = f"""
INSERT INTO deprovisioning_brakes AS b (org_id, enabled, floor, share_percent, window_seconds)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (org_id) DO UPDATE
SET enabled = EXCLUDED.enabled, floor = EXCLUDED.floor,
    share_percent = EXCLUDED.share_percent, window_seconds = EXCLUDED.window_seconds,
    budget = NULL, budget_until = NULL
RETURNING {_COLUMNS}
"""


def _state(row: asyncpg.Record) -> BrakeState:
    settings = BrakeSettings(
        enabled=row["enabled"],
        floor=row["floor"],
        share_percent=float(row["share_percent"]),
        window=timedelta(seconds=row["window_seconds"]),
    )
    state = BrakeState(
        settings,
        tripped_at=row["tripped_at"],
        tripped_data=row["tripped_data"],
        counted_from=row["counted_from"],
        allowance=row["allowance"],
        off_until=row["off_until"],
        budget=row["budget"],
        budget_until=row["budget_until"],
    )
    return state


class BrakesRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def lock(self, org_id: str) -> tuple[BrakeState, datetime]:
        """The org's brake, held until the transaction ends, and the time now."""
        row = one(await self._conn.fetchrow(_LOCK, org_id))
        return _state(row), row["now"]

    async def get(self, org_id: str) -> tuple[BrakeState, datetime]:
        """The org's brake (the defaults before its first use) and the time now."""
        row = await self._conn.fetchrow(_SELECT, org_id)
        if row is None:
            return BrakeState(BrakeSettings()), await self._conn.fetchval(
                "SELECT clock_timestamp()"
            )
        return _state(row), row["now"]

    async def in_window(self, org_id: str, since: datetime) -> int:
        return int(await self._conn.fetchval(_IN_WINDOW, org_id, since))

    async def active_members(self, org_id: str) -> int:
        return int(await self._conn.fetchval(_ACTIVE_MEMBERS, org_id))

    async def cache_budget(self, org_id: str, budget: int, until: datetime) -> None:
        await self._conn.execute(_CACHE_BUDGET, org_id, budget, until)

    async def record(self, org_id: str, user_ids: Sequence[str], kind: str) -> None:
        if user_ids:
            await self._conn.execute(_RECORD, org_id, [uuid.UUID(u) for u in user_ids], kind)

    async def consume_allowance(self, org_id: str, used: int) -> None:
        await self._conn.execute(_CONSUME_ALLOWANCE, org_id, used)

    async def forget_before(self, org_id: str, before: datetime) -> None:
        await self._conn.execute(_FORGET_BEFORE, org_id, before)

    async def trip(self, org_id: str, figures: dict[str, int]) -> bool:
        """Trip the brake; False when it already was."""
        return await self._conn.fetchval(_TRIP, org_id, figures) is not None

    async def release(self, org_id: str, allowance: int, off_for: timedelta | None) -> BrakeState:
        return _state(one(await self._conn.fetchrow(_RELEASE, org_id, allowance, off_for)))

    async def configure(self, org_id: str, settings: BrakeSettings) -> BrakeState:
        row = await self._conn.fetchrow(
            _CONFIGURE,
            org_id,
            settings.enabled,
            settings.floor,
            Decimal(str(settings.share_percent)),
            int(settings.window.total_seconds()),
        )
        return _state(one(row))
