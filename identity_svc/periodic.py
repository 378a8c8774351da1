"""A job the identity service runs in the background, now and every so often.

Each replica runs its own: the jobs (the restore window's purge, the request
log's retention) are safe to run on several replicas at once. A failing pass
is logged and the next one tries again; nothing ends the loop but close().
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)

# The database being down or slow: a pass fails, a later one succeeds.
_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class Periodic:
    """Runs `job` (which says how much it did) at start and every `every_seconds`."""

    def __init__(self, name: str, every_seconds: float, job: Callable[[], Awaitable[int]]) -> None:
        self._name = name
        self._every = every_seconds
        self._job = job
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._forever(), name=self._name)

    async def close(self) -> None:
        """Stop; a pass in flight is rolled back, and a later start does its work."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _forever(self) -> None:
        while True:
            try:
                done = await self._job()
                if done:
                    log.info("%s: %d done", self._name, done)
            except _DB_ERRORS as exc:
                log.warning("%s failed, retrying later: %r", self._name, exc)
            except Exception:
                log.exception("%s: unexpected error", self._name)
            await asyncio.sleep(self._every)
