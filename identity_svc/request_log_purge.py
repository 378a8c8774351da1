"""The request log's retention: entries older than the retention, or beyond each org's cap, go.

Every replica runs a purger. Each pass deletes in bounded batches, one short
statement each, so it never holds many row locks or a long transaction; a
batch skips rows another replica's batch holds (SKIP LOCKED), and whatever is
left is taken by the next pass, so passes may overlap and repeat safely.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from identity_svc.db.request_log import RequestLogRepository
from identity_svc.periodic import Periodic

PURGE_EVERY_SECONDS = 300.0
# Entries deleted per statement.
BATCH = 5000


async def purge_org(
    pool: asyncpg.Pool, org_id: str, older_than: datetime, keep: int, batch: int = BATCH
) -> int:
    """Delete the org's entries before `older_than` and beyond its newest `keep`; how many."""
    async with pool.acquire() as conn:
        repository = RequestLogRepository(conn)
        boundary = await repository.purge_boundary(org_id, older_than, keep)
        deleted = 0
        while (done := await repository.delete_before(org_id, boundary, batch)) > 0:
            deleted += done
            if done < batch:
                break
    return deleted


class RequestLogPurger(Periodic):
    """Purges every org's request log on a timer, in the background."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        retention: timedelta,
        max_per_org: int,
        every_seconds: float = PURGE_EVERY_SECONDS,
    ) -> None:
        super().__init__("request-log purge", every_seconds, self.purge_once)
        self._pool = pool
        self._retention = retention
        self._max_per_org = max_per_org

    async def purge_once(self) -> int:
        """One pass over every org; how many entries it deleted."""
        older_than = datetime.now(UTC) - self._retention
        async with self._pool.acquire() as conn:
            org_ids = await RequestLogRepository(conn).org_ids()
        deleted = 0
        for org_id in org_ids:
            deleted += await purge_org(self._pool, org_id, older_than, self._max_per_org)
        return deleted
