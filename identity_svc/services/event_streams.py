"""Replay-then-tail reads of the change log (SPEC §6).

A stream remembers the last sequence it delivered per org and, whenever it is
woken, reads `seq > last` from the table again. The notification payload is
never trusted on its own, so a lost, late or duplicated notification cannot
cause a gap or a repeat: a resuming consumer sees every event exactly once.

Why `seq > last` after a wake-up can never skip a lower sequence that is
still to come: writers do not number their events; they stage them, and the
sequencer (identity_svc/sequencer.py, db/events.py) numbers only staged rows
that have committed, each batch in one transaction that also bumps the org's
`event_seq`, under the org row's lock. The next batch is numbered only once
that lock is free, which Postgres allows only after the previous batch is
visible to new snapshots. So when any snapshot sees 11, it also sees 10: a
read never observes a higher sequence while a lower one is pending. Each page
is one statement (one snapshot under READ COMMITTED), which is all this needs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

import asyncpg

from identity_svc.db.events import Event, EventsRepository
from identity_svc.events_hub import EventHub

# Rows per read; a stream holds a pool connection only while reading a page,
# never while a slow consumer takes its events.
PAGE_SIZE = 500
# Re-read even without a wake-up after this long: a cheap safety net under
# the hub, which already wakes every stream after any gap in listening.
IDLE_RESYNC_SECONDS = 30.0

# A filtered stream tells its consumer how far it has read at most this often.
MARK_INTERVAL_SECONDS = 1.0

Ready = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Mark:
    """How far a filtered stream has read an org's log: resume from here."""

    org_id: str
    seq: int


async def _noop() -> None:
    return None


async def _page(pool: asyncpg.Pool, org_id: str, after: int) -> list[Event]:
    async with pool.acquire() as conn:
        return await EventsRepository(conn).after(org_id, after, PAGE_SIZE)


async def watch_org(
    pool: asyncpg.Pool,
    hub: EventHub,
    org_id: str,
    after_seq: int,
    follow: bool,
    on_ready: Ready = _noop,
) -> AsyncIterator[Event]:
    """Events of `org_id` after `after_seq`, then (if `follow`) new ones as they commit."""
    # Subscribed before the first read: a commit between the replay and the
    # wait still leaves a wake-up behind.
    with hub.subscribe(frozenset({org_id})) as sub:
        async with pool.acquire() as conn:
            await EventsRepository(conn).position(org_id)  # NotFound for an unknown org
        await on_ready()
        last = after_seq
        while True:
            page = await _page(pool, org_id, last)
            for event in page:
                yield event
                last = event.seq
            if len(page) == PAGE_SIZE:
                continue  # more to replay before waiting
            if not follow:
                return
            if (await sub.wait(IDLE_RESYNC_SECONDS)).closed:
                return


async def _behind(pool: asyncpg.Pool, positions: Mapping[str, int]) -> set[str]:
    """Orgs whose last committed sequence is past what was delivered."""
    async with pool.acquire() as conn:
        current = await EventsRepository(conn).positions()
    return {org for org, seq in current.items() if seq > positions.get(org, 0)}


async def watch_all(
    pool: asyncpg.Pool,
    hub: EventHub,
    after: Mapping[str, int],
    types: Collection[str] = (),
    on_ready: Ready = _noop,
) -> AsyncIterator[Event | Mark]:
    """Every org's events: listed orgs from their position, the others from now on.

    With `types`, only those events, and a Mark now and then where the others
    were passed over (the gateway follows key revocations, not every write).
    """
    wanted = frozenset(types)
    # What the consumer knows per org (its last event or mark), and when it was marked.
    told: dict[str, int] = {}
    marked: dict[str, float] = {}
    with hub.subscribe(None) as sub:
        # Orgs created after this snapshot are absent: all of their events are
        # new, and positions.get(org, 0) replays them from the start.
        async with pool.acquire() as conn:
            positions = await EventsRepository(conn).positions()
        positions.update(after)
        await on_ready()
        pending = set(after)
        while True:
            while pending:
                org_id = min(pending)
                page = await _page(pool, org_id, positions.get(org_id, 0))
                for event in page:
                    positions[org_id] = event.seq
                    if not wanted or event.type in wanted:
                        told[org_id] = event.seq
                        yield event
                now = time.monotonic()
                if (
                    wanted
                    and page
                    and told.get(org_id) != positions[org_id]
                    and now - marked.get(org_id, 0.0) >= MARK_INTERVAL_SECONDS
                ):
                    told[org_id], marked[org_id] = positions[org_id], now
                    yield Mark(org_id, positions[org_id])
                if len(page) < PAGE_SIZE:
                    pending.discard(org_id)
            wake = await sub.wait(IDLE_RESYNC_SECONDS)
            if wake.closed:
                return
            pending = set(wake.orgs)
            if wake.resync:
                pending |= await _behind(pool, positions)
