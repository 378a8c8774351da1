"""The asyncpg pool: one per process, created in `__main__` or the tests."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TypeAlias

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # What repositories accept: a plain connection or one lent by the pool.
    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]


async def _init_connection(conn: Connection) -> None:
    # JSONB documents travel as Python dicts.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(
    dsn: str, *, min_size: int = 2, max_size: int = 10, command_timeout: float = 30.0
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        init=_init_connection,
    )
    if pool is None:  # only when create_pool is not awaited
        raise RuntimeError("asyncpg did not create a pool")
    return pool


def one(row: asyncpg.Record | None) -> asyncpg.Record:
    """The row a statement that always returns one (INSERT/UPDATE ... RETURNING) returned."""
    if row is None:
        raise RuntimeError("statement returned no row")
    return row
