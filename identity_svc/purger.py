"""The process's purge of deleted members past the restore window (issue 10).

Every replica runs one: each pass purges in batches that take only copies no
other transaction holds (services/deleted_users.py), so replicas purging at
once never delete a copy, or write its user.purged event, twice.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from identity_svc.periodic import Periodic
from identity_svc.services.deleted_users import purge_expired


class Purger(Periodic):
    """Purges expired deleted members every `interval_seconds`, from its start."""

    def __init__(self, pool: asyncpg.Pool, window: timedelta, interval_seconds: float) -> None:
        super().__init__("restore-window purge", interval_seconds, self.purge_once)
        self._pool = pool
        self._window = window

    async def purge_once(self) -> int:
        """One pass: how many deleted members it purged."""
        return await purge_expired(self._pool, self._window)
