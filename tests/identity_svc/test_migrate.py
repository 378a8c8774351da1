import asyncio
import secrets
import uuid
from datetime import UTC, datetime

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


_MICROS = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_MILLIS = _MICROS.replace(microsecond=678000)


async def _database_before(postgres_dsn: str, version: str) -> tuple[asyncpg.Connection, str]:
    """A new database with the migrations before `version` applied, as a release had them."""
    name = f"graphos_scim_old_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(_with_database(postgres_dsn, name))
    await conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY)")
    for earlier, sql in migration_files():
        if earlier < version:
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations VALUES ($1)", earlier)
    return conn, name


async def test_timestamps_are_stored_as_they_are_returned(postgres_dsn: str) -> None:
    # SCIM shows milliseconds (issue 9): rows written before 0005 held microseconds.
    conn, name = await _database_before(postgres_dsn, "0005")
    try:
        await conn.execute("INSERT INTO orgs (org_id, name) VALUES ('old', 'Old')")
        user_id, group_id = uuid.uuid4(), uuid.uuid4()
        await conn.execute(
            "INSERT INTO users (org_id, id, user_name, document, created, last_modified)"
            " VALUES ('old', $1, 'u@old.test', '{}', $2, $2)",
            user_id,
            _MICROS,
        )
        await conn.execute(
            "INSERT INTO groups (org_id, id, display_name, created, last_modified)"
            " VALUES ('old', $1, 'G', $2, $2)",
            group_id,
            _MICROS,
        )
        await conn.execute(
            "INSERT INTO list_walks (org_id, walk_key, start_index, last_created, last_id)"
            " VALUES ('old', 'k', 101, $1, $2)",
            _MICROS,
            user_id,
        )
        assert (await migrate(conn))[0] == "0005_millisecond_timestamps"
        rows = await conn.fetch(
            "SELECT created, last_modified FROM users"
            " UNION ALL SELECT created, last_modified FROM groups"
        )
        assert [tuple(row) for row in rows] == [(_MILLIS, _MILLIS)] * 2
        assert await conn.fetchval("SELECT count(*) FROM list_walks") == 0
        # Written since, in any way: at milliseconds too.
        await conn.execute("UPDATE users SET last_modified = $1", _MICROS)
        await conn.execute("UPDATE groups SET last_modified = clock_timestamp()")
        stamps = await conn.fetch(
            "SELECT last_modified FROM users UNION ALL SELECT last_modified FROM groups"
        )
        assert [s["last_modified"].microsecond % 1000 for s in stamps] == [0, 0]
    finally:
        await conn.close()
        admin = await asyncpg.connect(postgres_dsn)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def test_titles_stored_before_they_were_bounded_do_not_stop_the_title_index(
    postgres_dsn: str,
) -> None:
    # A title that cannot fit an index entry was accepted before 0010: the
    # partial index leaves it out instead of failing the migration.
    conn, name = await _database_before(postgres_dsn, "0010")
    try:
        await conn.execute("INSERT INTO orgs (org_id, name) VALUES ('old', 'Old')")
        await conn.execute(
            "INSERT INTO users (org_id, id, user_name, document) VALUES"
            " ('old', gen_random_uuid(), 'u@old.test', jsonb_build_object('title', $1::text))",
            "".join(chr(0x4E00 + i % 2000) for i in range(3000)),  # 9,000 bytes
        )
        assert await migrate(conn) == ["0010_title_index"]
    finally:
        await conn.close()
        admin = await asyncpg.connect(postgres_dsn)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
