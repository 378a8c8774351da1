"""One LISTEN connection per process, fanned out to every event stream.

Streams never trust a notification's payload: a wake-up only says "read the
change log again from where you are". That makes lost notifications harmless
as long as every stream is woken after any gap, which is what happens when
the LISTEN connection is (re)established: every subscriber is told to
re-read everything it follows. While the connection is down nothing is
delivered live, but nothing is lost either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from identity_svc.db.events import EVENTS_CHANNEL

log = logging.getLogger(__name__)

# Reconnect delays after the LISTEN connection fails: doubling, capped.
_FIRST_RETRY_SECONDS = 0.1
_MAX_RETRY_SECONDS = 5.0
# A connection that died silently (no FIN, e.g. a network partition) is
# noticed by this heartbeat rather than by waiting forever.
_HEARTBEAT_SECONDS = 15.0
_CONNECT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Wake:
    """Why a subscriber woke: orgs with new events, or re-read everything."""

    orgs: frozenset[str]
    resync: bool
    closed: bool = False


class Subscription:
    """What one stream has been told since it last looked."""

    def __init__(self, orgs: frozenset[str] | None) -> None:
        self._orgs = orgs  # None: every org
        self._dirty: set[str] = set()
        self._resync = False
        self._closed = False
        self._wakeup = asyncio.Event()

    def _notify(self, org_id: str) -> None:
        if self._orgs is None or org_id in self._orgs:
            self._dirty.add(org_id)
            self._wakeup.set()

    def _resync_all(self) -> None:
        self._resync = True
        self._wakeup.set()

    def _close(self) -> None:
        self._closed = True
        self._wakeup.set()

    async def wait(self, idle_seconds: float) -> Wake:
        """Wait for news; after `idle_seconds` of quiet, ask for a full re-read anyway."""
        try:
            await asyncio.wait_for(self._wakeup.wait(), idle_seconds)
        except TimeoutError:
            # A safety net only: the hub already wakes everyone after a gap.
            self._resync = True
        wake = Wake(frozenset(self._dirty), self._resync, self._closed)
        self._dirty.clear()
        self._resync = False
        if not self._closed:
            self._wakeup.clear()
        return wake


class EventHub:
    """Owns the process's LISTEN connection; reconnects by itself."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._subscribers: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection[asyncpg.Record] | None = None
        self._closed = False
        self.connected = asyncio.Event()

    @property
    def backend_pid(self) -> int | None:
        """The Postgres backend of the LISTEN connection, while connected."""
        conn = self._conn
        return conn.get_server_pid() if conn is not None and not conn.is_closed() else None

    def start(self) -> None:
        """Start listening in the background (idempotent)."""
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name="event-hub")

    async def close(self) -> None:
        """Stop listening and end every follower's wait."""
        self._closed = True
        for sub in self._subscribers:
            sub._close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.contextmanager
    def subscribe(self, orgs: frozenset[str] | None = None) -> Iterator[Subscription]:
        """Follow `orgs` (None: all); subscribe before the first read so no wake-up is lost."""
        self.start()
        sub = Subscription(orgs)
        if self._closed:
            sub._close()
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    def _on_notification(self, conn: Any, pid: int, channel: str, payload: object) -> None:
        org_id = str(payload).rpartition(":")[0]
        for sub in self._subscribers:
            sub._notify(org_id)

    async def _run(self) -> None:
        delay = _FIRST_RETRY_SECONDS
        while True:
            self._conn = None
            try:
                await self._listen()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("event hub: LISTEN connection failed: %r", exc)
            except Exception:
                # A background task that dies would silently stop every live stream.
                log.exception("event hub: unexpected error")
            if self.connected.is_set():  # it had connected: start the backoff over
                delay = _FIRST_RETRY_SECONDS
            self.connected.clear()
            log.warning("event hub: not listening; reconnecting in %.1fs", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_SECONDS)

    async def _listen(self) -> None:
        conn = await asyncpg.connect(self._dsn, timeout=_CONNECT_TIMEOUT_SECONDS)
        try:
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _conn: lost.set())
            await conn.add_listener(EVENTS_CHANNEL, self._on_notification)
            self._conn = conn
            self.connected.set()
            log.info("event hub: listening on %s (backend %d)", EVENTS_CHANNEL, self.backend_pid)
            # Notifications sent while we were not listening are gone: everyone re-reads.
            for sub in self._subscribers:
                sub._resync_all()
            await self._until_lost(conn, lost)
        finally:
            conn.terminate()

    async def _until_lost(
        self, conn: asyncpg.Connection[asyncpg.Record], lost: asyncio.Event
    ) -> None:
        while not lost.is_set():
            try:
                await asyncio.wait_for(lost.wait(), _HEARTBEAT_SECONDS)
            except TimeoutError:
                await conn.fetchval("SELECT 1", timeout=_HEARTBEAT_SECONDS)
