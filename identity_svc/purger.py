"""The process's purge of deleted members past the restore window (issue 10).

Every replica runs one: each pass purges in batches that take only copies no
other transaction holds (services/deleted_users.py), so replicas purging at
once never delete a copy, or write its user.purged event, twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import asyncpg

from identity_svc.services.deleted_users import purge_expired

log = logging.getLogger(__name__)

_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Purger:
    """Purges expired deleted members every `interval_seconds`, from its start."""

    def __init__(self, pool: asyncpg.Pool, window: timedelta, interval_seconds: float) -> None:
        self._pool = pool
        self._window = window
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._purge_forever(), name="restore-window-purge")

    async def close(self) -> None:
        """Stop; a batch in flight is rolled back and purged by a later pass."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _purge_forever(self) -> None:
        while True:
            await self.purge_once()
            await asyncio.sleep(self._interval)

    async def purge_once(self) -> int:
        """One pass; failures are logged, never end the purging."""
        try:
            purged = await purge_expired(self._pool, self._window)
        except _DB_ERRORS as exc:
            log.warning("purge of deleted members failed: %r", exc)
            return 0
        except Exception:
            log.exception("unexpected error purging deleted members")
            return 0
        if purged:
            log.info("purged %d deleted members past the restore window", purged)
        return purged
