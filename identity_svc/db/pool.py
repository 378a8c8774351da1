"""The asyncpg pool: one per process, created in `__main__` or the tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

import asyncpg
import orjson

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # What repositories accept: a plain connection or one lent by the pool.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]


def _json_text(value: object) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: Connection) -> None:
    # JSONB documents travel as Python dicts.
    await conn.set_type_codec(
        "jsonb", encoder=_json_text, decoder=orjson.loads, schema="pg_catalog"
    )


async def _keep_session(conn: Connection) -> None:
    """Reset nothing on release beyond what asyncpg always does (roll back an open transaction).

    asyncpg's default reset costs a round trip per request (advisory unlock,
    CLOSE ALL, UNLISTEN, RESET ALL) for state our pooled connections never
    take: their advisory locks are transaction-scoped, they never LISTEN (the
    event hub has its own connection), SET only LOCAL, and hold no cursors
    outside a transaction.
    """


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, command_timeout: float = 30.0
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        init=_init_connection,
        reset=_keep_session,
    )
    if pool is None:  # only when create_pool is not awaited
        raise RuntimeError("asyncpg did not create a pool")
    return pool


def one(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row a statement that always returns one (INSERT/UPDATE ... RETURNING) returned."""
    if row is None:
        raise RuntimeError("statement returned no row")
    return row
