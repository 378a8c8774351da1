"""Faults injected into Postgres, and the state of an org to compare around them.

`failing_rows` installs a trigger that raises on the rows of one org only, so
the tests that share the session database never see it, and drops it on the
way out whatever happens. `org_state` reads every row an org owns, so a test
can assert that a failed write left the org exactly as it was.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

INJECTED = "injected fault"

# Every table that holds an org's data (schema_migrations holds none).
_ORG_TABLES = {
    "orgs": "org_id",
    "users": "id",
    "user_values": "user_id, attribute, position",
    "groups": "id",
    "group_members": "group_id, user_id",
    "role_rules": "id",
    "deleted_users": "id",
    "scim_keys": "id",
    "event_staging": "staged_lsn, staged_xid, position",
    "events": "seq",
}
# Written on every verified request, on purpose outside any write (SPEC §5).
_VOLATILE = {"scim_keys": "last_used"}


@asynccontextmanager
async def failing_rows(
    pool: asyncpg.Pool, table: str, org_id: str, event: str = "INSERT"
) -> AsyncIterator[None]:
    """While open, `event` on `org_id`'s rows of `table` raises.

    `event` is "INSERT", "DELETE", "UPDATE" or "UPDATE OF <column>".
    """
    body = f"BEGIN RAISE EXCEPTION '{INJECTED} on {table}'; END"
    async with _row_trigger(pool, table, org_id, event, body):
        yield


@asynccontextmanager
async def pausing_rows(
    pool: asyncpg.Pool, table: str, org_id: str, lock_key: int
) -> AsyncIterator[None]:
    """While open, an INSERT of `org_id`'s rows into `table` first waits for `lock_key`.

    Hold that advisory lock to stop a write at that statement.
    """
    body = f"BEGIN PERFORM pg_advisory_xact_lock({int(lock_key)}); RETURN NEW; END"
    async with _row_trigger(pool, table, org_id, "INSERT", body):
        yield


@asynccontextmanager
async def _row_trigger(
    pool: asyncpg.Pool, table: str, org_id: str, event: str, body: str
) -> AsyncIterator[None]:
    """A BEFORE `event` trigger running `body` on `org_id`'s rows of `table`, dropped after."""
    if table not in _ORG_TABLES or not re.fullmatch(r"[a-z0-9-]+", org_id):
        raise ValueError(f"cannot scope a fault to {table!r} of {org_id!r}")
    if not re.fullmatch(r"INSERT|DELETE|UPDATE( OF [a-z_]+)?", event):
        raise ValueError(f"unsupported trigger event {event!r}")
    name = f"test_fault_{secrets.token_hex(6)}"
    row = "OLD" if event == "DELETE" else "NEW"
    await pool.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $${body}$$")
    try:
        await pool.execute(
            f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW"
            f" WHEN ({row}.org_id = '{org_id}') EXECUTE FUNCTION {name}()"
        )
        try:
            yield
        finally:
            await pool.execute(f"DROP TRIGGER {name} ON {table}")
    finally:
        await pool.execute(f"DROP FUNCTION {name}()")


async def org_state(pool: asyncpg.Pool, org_id: str) -> dict[str, list[Any]]:
    """Every row of the org, table by table, in a stable order."""
    state: dict[str, list[Any]] = {}
    for table, order in _ORG_TABLES.items():
        volatile = _VOLATILE.get(table)
        row = f"to_jsonb(t) - '{volatile}'" if volatile else "to_jsonb(t)"
        # Table and column names come from _ORG_TABLES, never from a caller.
        query = f"SELECT coalesce(jsonb_agg({row} ORDER BY {order}), '[]') FROM {table} t"  # noqa: S608
        state[table] = await pool.fetchval(query + " WHERE org_id = $1", org_id)
    return state


async def events_of(pool: asyncpg.Pool, org_id: str) -> list[str]:
    """The types of the org's events, in sequence order."""
    rows = await pool.fetch("SELECT type FROM events WHERE org_id = $1 ORDER BY seq", org_id)
    return [r["type"] for r in rows]
