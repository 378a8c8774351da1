"""A pool-shaped wrapper that records every statement the code under test runs.

Services and servers take a pool and only ever call `acquire()`, so they run
unmodified on a `QueryLog`: it lends the real pool's connections with an
asyncpg query logger attached for as long as they are lent. Tests count
statements to prove structure (a constant number of statements, a table not
touched), never time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, cast

import asyncpg

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection


class QueryLog:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.statements: list[str] = []

    @property
    def pool(self) -> asyncpg.Pool:
        """This log as the pool type that services and `create_server` declare."""
        return cast(asyncpg.Pool, self)

    def _log(self, record: asyncpg.connection.LoggedQuery) -> None:
        self.statements.append(record.query)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        async with self._pool.acquire() as conn:
            conn.add_query_logger(self._log)
            try:
                yield conn
            finally:
                await asyncio.sleep(0)  # loggers are called soon after a statement, not at once
                conn.remove_query_logger(self._log)

    def clear(self) -> None:
        self.statements.clear()

    def touching(self, table: str) -> list[str]:
        """The recorded statements that name `table` (as a whole word)."""
        return [s for s in self.statements if table in s.replace("(", " ").split()]
