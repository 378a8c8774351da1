import asyncio
import secrets

import asyncpg

from identity_svc.db.migrate import migrate, migrate_dsn, migration_files
from tests.conftest import _with_database


async def test_session_database_has_every_migration(db_pool: asyncpg.Pool) -> None:
    rows = await db_pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
    assert [r["version"] for r in rows] == [v for v, _ in migration_files()]


async def test_migrating_again_applies_nothing(database_url: str) -> None:
    assert await migrate_dsn(database_url) == []


async def test_replicas_migrating_at_once_apply_each_file_once(postgres_dsn: str) -> None:
    name = f"graphos_scim_race_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(postgres_dsn, name)
    try:
        conns = [await asyncpg.connect(url) for _ in range(4)]
        results = await asyncio.gather(*(migrate(c) for c in conns))
        for c in conns:
            await c.close()
        applied = [v for result in results for v in result]
        assert sorted(applied) == [v for v, _ in migration_files()]
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_every_index_and_key_leads_with_org_id(db_pool: asyncpg.Pool) -> None:
    # SPEC §4: ready to distribute by org_id.
    rows = await db_pool.fetch(
        """
        SELECT i.indexrelid::regclass::text AS index,
               a.attname AS first_column
        FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
        WHERE n.nspname = 'public' AND t.relname <> 'schema_migrations'
        """
    )
    assert rows
    assert {r["index"]: r["first_column"] for r in rows} == {r["index"]: "org_id" for r in rows}
