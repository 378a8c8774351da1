"""The restore window's statements find their rows through their index (SPEC §8).

As test_plans.py: the product's own SQL constants, EXPLAINed on an analyzed
org with thousands of deleted members, none of them a sequential scan. The
purge spans orgs through (org_id, deleted_at): a skip scan of the org column.
It runs every few minutes, so few copies are past the window when it does.
"""

from __future__ import annotations

from datetime import timedelta

from identity_svc.db import deleted_users
from tests.identity_svc.support import new_org_id

WINDOW = timedelta(days=30)


async def test_restore_list_and_purge_use_their_index(conn):
    org = new_org_id()
    await conn.execute("INSERT INTO orgs (org_id, name) VALUES ($1, 'Plans')", org)
    await conn.execute(
        "INSERT INTO deleted_users (org_id, id, user_name, document, version, created,"
        " group_ids, deleted_at, deleted_by)"
        " SELECT $1, gen_random_uuid(), 'p' || i || '@plan.test', '{}', 1, now(), '{}',"
        " now() - CASE WHEN i <= 10 THEN interval '31 days' ELSE i * interval '1 minute' END,"
        " 'scim_key:k'"
        " FROM generate_series(1, 4000) AS i",
        org,
    )
    await conn.execute("ANALYZE deleted_users")
    cases = {
        "restore by userName": (
            deleted_users._LOCK_LATEST_BY_NAME,
            [org, "P42@Plan.Test", WINDOW],
            "deleted_users_user_name",
        ),
        "restorable, newest first": (
            deleted_users._LIST_RESTORABLE,
            [org, WINDOW, *deleted_users._START, 101],
            "deleted_users_deleted_at",
        ),
        "purge": (deleted_users._PURGE_EXPIRED, [WINDOW, 500], "deleted_users_deleted_at"),
    }
    wrong = {}
    for case, (statement, args, index) in cases.items():
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {statement}", *args))
        if index not in plan or "Seq Scan" in plan:
            wrong[case] = plan
    assert not wrong, "\n\n".join(f"{case}:\n{plan}" for case, plan in wrong.items())
