"""Transactions of the use cases: every write is exactly one transaction.

A write runs its function in a transaction, then stages the events it
recorded as the transaction's last statement (see db/events.py). Once it has
committed, it waits for the process's sequencer to number them, so its caller
finds them in the log (identity_svc/sequencer.py); that wait holds no
connection and no lock, and one sequencer pass serves every write waiting.
Deadlocks and serialization failures, which Postgres resolves by aborting one
side, are retried a few times.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg

from identity_svc.db.events import PendingEvent, append_events
from identity_svc.db.walks import remember_walk
from identity_svc.domain.models import Page, WriteContext
from identity_svc.metrics import TRANSACTION_RETRIES
from identity_svc.sequencer import settle

if TYPE_CHECKING:
    from identity_svc.db.listing import ListedRows
    from identity_svc.db.pool import Connection

T = TypeVar("T")

_ATTEMPTS = 3


@dataclass
class UnitOfWork:
    conn: Connection
    context: WriteContext
    events: list[PendingEvent] = field(default_factory=list)

    def record(
        self,
        org_id: str,
        type_: str,
        resource_type: str,
        resource_id: str,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.events.append(PendingEvent(org_id, type_, resource_type, resource_id, data or {}))


async def run_write(
    pool: asyncpg.Pool, context: WriteContext, work: Callable[[UnitOfWork], Awaitable[T]]
) -> T:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            async with pool.acquire() as conn, conn.transaction():
                uow = UnitOfWork(conn, context)
                result = await work(uow)
                if uow.events:
                    await append_events(conn, uow.events, str(context.actor), context.request_id)
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
            if attempt == _ATTEMPTS:
                raise
            reason = (
                "deadlock" if isinstance(exc, asyncpg.DeadlockDetectedError) else "serialization"
            )
            TRANSACTION_RETRIES.labels(reason).inc()
            continue
        await settle(pool, {event.org_id for event in uow.events})
        return result
    raise AssertionError("unreachable")  # pragma: no cover


async def run_read(pool: asyncpg.Pool, work: Callable[[Connection], Awaitable[T]]) -> T:
    """A read-only snapshot, so a count and its page agree."""
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await work(conn)


async def run_listing(
    pool: asyncpg.Pool,
    work: Callable[[Connection], Awaitable[tuple[Sequence[T], ListedRows]]],
) -> Page[T]:
    """A page read in one snapshot like run_read; then where its walk goes on.

    The position is written after the snapshot, committed on its own before
    the page is answered, so the walk's next request finds it on any replica.
    """
    async with pool.acquire() as conn:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            items, listed = await work(conn)
        if listed.walk is not None:
            await remember_walk(conn, listed.walk)
    return Page(
        listed.total_results,
        tuple(items),
        listed.start_index,
        listed.next_cursor,
        listed.previous_cursor,
    )
