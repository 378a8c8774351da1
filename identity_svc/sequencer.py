"""The process's event sequencer: numbers the events that writers staged (SPEC §6).

Writers stage their events without a sequence and commit without waiting for
one another (db/events.py). Right after its commit a write asks this process's
sequencer to number its orgs' events (`settle`, from services/transactions.py)
and answers once that is done, so whoever reads the log after a write finds
the write's events there, and a key revocation reaches the gateway at once.

Asks for one org coalesce, like a group commit: at most one pass per org runs
in a process at a time, and every write that committed while it ran is served
by the next pass, which starts when it ends. The busier an org, the more writes
one pass numbers. Passes of several replicas serialize on the org row's lock
(db/events.py), so they may sequence the same org at once.

A periodic sweep numbers what nobody asked for: the events of a process that
died between its commit and its ask, or whose ask failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

import asyncpg

from identity_svc.db.events import sequence_org, staged_orgs

log = logging.getLogger(__name__)

SWEEP_SECONDS = 0.5
# Events numbered per transaction: a backlog is numbered in bounded steps.
_BATCH = 1000
# Passes of different orgs run at once, each on a pool connection, up to this.
_MAX_CONCURRENT_PASSES = 4
# A write whose events are not numbered by then answers anyway: it committed,
# and the sweep numbers them.
_SETTLE_SECONDS = 5.0

_DB_ERRORS = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

# The running sequencer of each pool: the one writes through that pool ask.
_SEQUENCERS: dict[asyncpg.Pool, Sequencer] = {}


async def settle(pool: asyncpg.Pool, org_ids: Iterable[str]) -> None:
    """After a commit: wait until its staged events of `org_ids` are numbered.

    A pool without a running sequencer (a tool, a test) does not wait; some
    process's sweep numbers its events.
    """
    sequencer = _SEQUENCERS.get(pool)
    if sequencer is not None:
        await sequencer.sequenced(org_ids)


class Sequencer:
    """Numbers committed staged events, per org, on asks and on a timer."""

    def __init__(self, pool: asyncpg.Pool, sweep_seconds: float = SWEEP_SECONDS) -> None:
        self._pool = pool
        self._sweep_seconds = sweep_seconds
        # Per org: the writes waiting for the next pass, and the task running passes.
        self._waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._passes: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(_MAX_CONCURRENT_PASSES)
        self._sweeper: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Serve the pool's writes and start sweeping (idempotent)."""
        if self._sweeper is None:
            _SEQUENCERS[self._pool] = self
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="event-sequencer")

    async def close(self) -> None:
        """Stop sweeping, then number what is still staged (best effort, bounded).

        A graceful stop leaves no committed write unnumbered: the server has
        drained its calls by now, and whatever they staged gets its sequence
        here rather than from another process's sweep later.
        """
        if _SEQUENCERS.get(self._pool) is self:
            del _SEQUENCERS[self._pool]
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_SETTLE_SECONDS):
                    await self._sweep_once()
        await asyncio.gather(*self._passes.values(), return_exceptions=True)

    async def sequenced(self, org_ids: Iterable[str]) -> None:
        """Return once a pass that began after this call has run for each org."""
        asks = [self._ask(org_id) for org_id in sorted(set(org_ids))]
        try:
            async with asyncio.timeout(_SETTLE_SECONDS):
                await asyncio.gather(*asks)
        except TimeoutError:
            log.warning(
                "sequencer: events not numbered within %.0fs; the sweep will", _SETTLE_SECONDS
            )

    def _ask(self, org_id: str) -> asyncio.Future[None]:
        done = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(org_id, []).append(done)
        if org_id not in self._passes:
            self._passes[org_id] = asyncio.create_task(self._serve(org_id))
        return done

    async def _serve(self, org_id: str) -> None:
        # The asks taken here all came before this pass starts: every write
        # behind them had committed, so the pass numbers their events.
        try:
            while asks := self._waiting.pop(org_id, None):
                await self._sequence(org_id)
                for done in asks:
                    if not done.done():
                        done.set_result(None)
        finally:
            del self._passes[org_id]

    async def _sequence(self, org_id: str) -> None:
        try:
            async with self._slots, self._pool.acquire() as conn:
                while await sequence_org(conn, org_id, _BATCH) == _BATCH:
                    pass  # a backlog: number the next batch
        except _DB_ERRORS as exc:
            log.warning("sequencer: numbering events of org %s failed: %r", org_id, exc)
        except Exception:
            # Never let one org's failure end the passes of a process.
            log.exception("sequencer: unexpected error numbering events of org %s", org_id)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_seconds)
            await self._sweep_once()

    async def _sweep_once(self) -> None:
        """Number every org's committed staged events."""
        try:
            async with self._pool.acquire() as conn:
                orgs = await staged_orgs(conn)
        except _DB_ERRORS as exc:
            log.warning("sequencer: sweep failed: %r", exc)
            return
        await asyncio.gather(*(self._ask(org_id) for org_id in orgs))
