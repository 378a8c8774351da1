"""Applies `identity_svc/migrations/*.sql` in order, each in its own transaction.

An advisory lock serializes replicas that start at once: the first applies
what is missing, the others then find nothing left to do.
"""

from __future__ import annotations

import asyncio
import logging
import os
from importlib import resources
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

log = logging.getLogger(__name__)

# Any constant works; it only has to be the same for every replica.
_MIGRATION_LOCK_ID = 7_301_946_521

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     text        PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) of every migration, in the order they apply."""
    folder = resources.files("identity_svc") / "migrations"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


async def migrate(conn: Connection) -> list[str]:
    """Apply pending migrations; returns the versions applied by this call."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_ID)
    try:
        await conn.execute(_CREATE_LEDGER)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, sql in migration_files():
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            log.info("applied migration %s", version)
            applied_now.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_ID)
    return applied_now


async def migrate_dsn(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(conn)
    finally:
        await conn.close()


def main() -> None:
    """`python -m identity_svc.db.migrate`: apply what is pending to `DATABASE_URL`, then exit.

    The Kubernetes migration step runs this before the service starts.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    applied = asyncio.run(migrate_dsn(os.environ["DATABASE_URL"]))
    log.info("migrations applied: %d", len(applied))


if __name__ == "__main__":
    main()
