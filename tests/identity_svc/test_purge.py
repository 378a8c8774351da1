"""The purge of deleted members past the restore window (issue 10), on real Postgres.

The purge spans every org, and other tests leave deleted members behind, so
each test looks at its own org's rows and events, and counts the expired rows
of all orgs before it purges.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import asyncpg

from identity_svc.purger import Purger
from identity_svc.services.deleted_users import purge_expired
from tests.identity_svc.member_support import new_group, new_user
from tests.identity_svc.test_restore import backdate, delete

WINDOW = timedelta(days=30)


async def _archive(db_pool: asyncpg.Pool, org: str, count: int, age: timedelta) -> list[str]:
    """`count` deleted members of `org`, deleted `age` ago, written straight to the table."""
    ids = [uuid.uuid4() for _ in range(count)]
    await db_pool.execute(
        "INSERT INTO deleted_users (org_id, id, user_name, document, version, created,"
        " group_ids, deleted_at, deleted_by)"
        " SELECT $1, i, 'u-' || i || '@x.test', '{}', 1, now(), '{}', now() - $3::interval, 't'"
        " FROM unnest($2::uuid[]) AS i",
        org,
        ids,
        age,
    )
    return [str(i) for i in ids]


async def _kept(db_pool: asyncpg.Pool, org: str) -> set[str]:
    rows = await db_pool.fetch("SELECT id::text FROM deleted_users WHERE org_id = $1", org)
    return {r["id"] for r in rows}


async def _purged_events(db_pool: asyncpg.Pool, org: str) -> list[tuple[str, str, str]]:
    rows = await db_pool.fetch(
        "SELECT resource_id, data->>'userName' AS name, actor FROM events"
        " WHERE org_id = $1 AND type = 'user.purged' ORDER BY seq",
        org,
    )
    return [(r["resource_id"], r["name"], r["actor"]) for r in rows]


async def _expired_everywhere(db_pool: asyncpg.Pool) -> int:
    query = "SELECT count(*) FROM deleted_users WHERE deleted_at <= now() - $1::interval"
    return int(await db_pool.fetchval(query, WINDOW))


async def test_only_members_past_the_window_are_purged(prov, org, db_pool):
    old, recent = await new_user(prov, org, "old@x.test"), await new_user(prov, org, "new@x.test")
    await new_group(prov, org, "Eng", old, recent)
    for user in (old, recent):
        await delete(prov, org, user)
    await backdate(db_pool, org, old, WINDOW + timedelta(minutes=1))
    await backdate(db_pool, org, recent, WINDOW - timedelta(minutes=1))
    expired = await _expired_everywhere(db_pool)

    assert await purge_expired(db_pool, WINDOW) == expired
    assert await _kept(db_pool, org) == {recent}
    assert await _purged_events(db_pool, org) == [
        (old, "old@x.test", "service:restore-window-purge")
    ]
    assert await purge_expired(db_pool, WINDOW) == 0  # nothing left to purge


async def test_two_purges_at_once_purge_each_member_once(org, db_pool):
    expired = await _archive(db_pool, org, 60, WINDOW + timedelta(hours=1))
    fresh = await _archive(db_pool, org, 3, timedelta(hours=1))
    everywhere = await _expired_everywhere(db_pool)

    # Small batches, so the two interleave over many transactions, on two connections.
    counts = await asyncio.gather(
        purge_expired(db_pool, WINDOW, batch=7), purge_expired(db_pool, WINDOW, batch=7)
    )

    assert sum(counts) == everywhere
    assert await _kept(db_pool, org) == set(fresh)
    events = [user_id for user_id, _, _ in await _purged_events(db_pool, org)]
    assert sorted(events) == sorted(expired)  # one event per member, none twice


async def test_a_purge_skips_what_another_transaction_holds(org, db_pool):
    held = await _archive(db_pool, org, 2, WINDOW + timedelta(hours=1))
    free = await _archive(db_pool, org, 2, WINDOW + timedelta(hours=1))
    async with db_pool.acquire() as other, other.transaction():
        # Another replica's purge (or a restore) in the middle of these two.
        await other.execute(
            "SELECT 1 FROM deleted_users WHERE org_id = $1 AND id = ANY($2::uuid[]) FOR UPDATE",
            org,
            held,
        )
        async with asyncio.timeout(10):  # it must not wait for the lock
            await purge_expired(db_pool, WINDOW)
        assert await _kept(db_pool, org) == set(held)
    await purge_expired(db_pool, WINDOW)
    assert await _kept(db_pool, org) == set()
    assert sorted(e[0] for e in await _purged_events(db_pool, org)) == sorted(free + held)


async def test_the_service_purges_on_its_own(org, db_pool):
    expired = await _archive(db_pool, org, 1, WINDOW + timedelta(hours=1))
    purger = Purger(db_pool, WINDOW, interval_seconds=0.05)
    purger.start()
    try:
        for _ in range(200):  # up to 10 s; its first pass runs at once
            if not await _kept(db_pool, org):
                break
            await asyncio.sleep(0.05)
    finally:
        await purger.close()
    assert [e[0] for e in await _purged_events(db_pool, org)] == expired
