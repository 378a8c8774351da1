"""The statements on the hot paths find their rows through the intended index (SPEC §8).

Each case EXPLAINs the product's own SQL constant (imported from db/users.py and
db/groups.py, not a copy) on an org large enough that Postgres would scan the
table if no index served the statement: thousands of users, groups and
memberships, analyzed. Nothing disables sequential scans, so a missing index,
or a statement rewritten so that its index no longer applies, shows up as a
plan without the index, or with an index that only narrows to the org.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import pytest

from identity_svc.db import groups, users
from identity_svc.db.filters import SqlParams, compile_member_filter
from tests.identity_svc.support import eq, new_org_id

SIZE = 3000


@dataclass(frozen=True)
class Big:
    org: str
    group: uuid.UUID  # every user is a member
    user: uuid.UUID
    some: list[uuid.UUID]


@pytest.fixture
async def big(conn: asyncpg.Connection) -> Big:
    org, group = new_org_id(), uuid.uuid4()
    await conn.execute("INSERT INTO orgs (org_id, name) VALUES ($1, 'Plans')", org)
    await conn.execute(
        """
        INSERT INTO users (org_id, id, user_name, display_name, primary_email, document)
        SELECT $1, gen_random_uuid(), 'p' || i || '@plan.test', 'P ' || i,
            'p' || i || '@plan.test', '{}'
        FROM generate_series(1, $2) AS i
        """,
        org,
        SIZE,
    )
    await conn.execute(
        """
        INSERT INTO user_values (org_id, user_id, attribute, position, value, type, is_primary)
        SELECT org_id, id, 'emails', 0, primary_email, 'work', true
        FROM users
        WHERE org_id = $1
        """,
        org,
    )
    await conn.execute(
        """
        INSERT INTO groups (org_id, id, display_name)
        SELECT $1, gen_random_uuid(), 'g' || i FROM generate_series(1, $2) AS i
        """,
        org,
        SIZE,
    )
    await conn.execute(
        "INSERT INTO groups (org_id, id, display_name, member_count) VALUES ($1, $2, 'Big', $3)",
        org,
        group,
        SIZE,
    )
    await conn.execute(
        "INSERT INTO group_members (org_id, group_id, user_id)"
        " SELECT org_id, $2, id FROM users WHERE org_id = $1",
        org,
        group,
    )
    # Each user is also in three small groups: the big one holds a quarter of the rows.
    await conn.execute(
        """
        INSERT INTO group_members (org_id, group_id, user_id)
        SELECT u.org_id, g.id, u.id
        FROM (SELECT org_id, id, row_number() OVER (ORDER BY id) AS n FROM users
              WHERE org_id = $1) AS u
        JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM groups
              WHERE org_id = $1 AND id <> $2) AS g
          ON g.n IN (u.n, u.n % $3 + 1, (u.n + 1) % $3 + 1)
        """,
        org,
        group,
        SIZE,
    )
    for table in ("users", "user_values", "groups", "group_members"):
        await conn.execute(f"ANALYZE {table}")
    some = [r["id"] for r in await conn.fetch("SELECT id FROM users WHERE org_id = $1", org)][:3]
    return Big(org, group, some[0], some)


def _member_filter_delete() -> tuple[str, Callable[[Big], list[object]]]:
    # PATCH remove members[value eq "..."]: the compiled filter inside the product's DELETE.
    def args(b: Big) -> list[object]:
        params = SqlParams(b.org, b.group)
        compile_member_filter(eq("value", str(b.user)), params)
        return params.args

    params = SqlParams("", uuid.UUID(int=0))
    condition = compile_member_filter(eq("value", str(uuid.UUID(int=1))), params)
    return groups.REMOVE_MEMBERS_WHERE.format(condition=condition), args


_WHERE_SQL, _WHERE_ARGS = _member_filter_delete()

# A membership is keyed by (org_id, group_id, user_id) and indexed also as
# (org_id, user_id, group_id): with all three known, either finds it by key.
MEMBERSHIP = ("group_members_pkey", "group_members_user")

# (statement, its arguments, the indexes it may use)
CASES: dict[str, tuple[str, Callable[[Big], list[object]], tuple[str, ...]]] = {
    "lock group": (groups._LOCK_GROUP, lambda b: [b.org, b.group], ("groups_pkey",)),
    "update group": (
        groups._UPDATE_GROUP,
        lambda b: [b.org, b.group, "Big", None, 1],
        ("groups_pkey",),
    ),
    "existing users": (groups._EXISTING_USERS, lambda b: [b.org, b.some], ("users_pkey",)),
    "add members": (
        groups._ADD_MEMBERS,
        lambda b: [b.org, b.group, b.some],
        ("group_members_pkey",),  # the ON CONFLICT arbiter
    ),
    "remove members": (
        groups._REMOVE_MEMBERS,
        lambda b: [b.org, b.group, b.some],
        MEMBERSHIP,
    ),
    "remove members[filter]": (_WHERE_SQL, _WHERE_ARGS, MEMBERSHIP),
    "remove user everywhere": (
        groups._REMOVE_MEMBERS_OF_USER,
        lambda b: [b.org, b.user],
        ("group_members_user",),
    ),
    "decrement groups": (groups._DECREMENT_GROUPS, lambda b: [b.org, [b.group]], ("groups_pkey",)),
    "member page": (
        groups._SELECT_MEMBER_PAGE,
        lambda b: [b.org, b.group, uuid.UUID(int=0), 100],
        ("group_members_pkey",),  # the group's members in user-id order
    ),
    "get user": (users._SELECT_USER, lambda b: [b.org, b.user], ("users_pkey",)),
    "user by userName": (
        users._SELECT_USER_BY_NAME,
        lambda b: [b.org, "P42@Plan.Test"],
        ("users_user_name_key",),
    ),
    "user by email": (
        users._SELECT_USER_BY_EMAIL,
        lambda b: [b.org, "P42@PLAN.test"],
        ("users_primary_email",),
    ),
    "users by ids": (users._SELECT_USERS_BY_IDS, lambda b: [b.org, b.some], ("users_pkey",)),
    "groups of users": (
        users._SELECT_GROUPS_OF_USERS,
        lambda b: [b.org, b.some],
        ("group_members_user",),
    ),
    "update user and its values": (
        users._UPDATE_USER,
        lambda b: [
            *(b.org, b.user, "p1@plan.test", None, True, None, None, None, "p1@plan.test", {}),
            *(["emails"], [0], ["p1@plan.test"], ["work"], [None], [True]),
        ],
        ("user_values_pkey",),
    ),
    "user with its groups": (
        users._SELECT_USER_WITH_GROUPS,
        lambda b: [b.org, b.user],
        ("users_pkey",),
    ),
}


def _by_org_only(plan: str) -> list[str]:
    """Index conditions that bound nothing but the org: a scan of the whole org."""
    conditions = re.findall(r"Index Cond: (.*)", plan)
    org_only = [re.sub(r"\((\w+\.)?org_id = '[^']*'::text\)", "", c) for c in conditions]
    return [c for c, rest in zip(conditions, org_only, strict=True) if not re.search("[=<>]", rest)]


# A page of members walks the group's rows in user-id order and may merge-join
# the org's users in the same order: the LIMIT, not the condition, bounds it.
_ORDERED_WALKS = {"member page"}


async def test_hot_statements_use_their_index(conn, big):
    # One seeded org for all cases; each failure names its statement and plan.
    wrong = {}
    for case, (statement, args, indexes) in CASES.items():
        rows = await conn.fetch(f"EXPLAIN {statement}", *args(big))
        plan = "\n".join(row[0] for row in rows)
        if not any(index in plan for index in indexes) or "Seq Scan" in plan:
            wrong[case] = plan
        elif case not in _ORDERED_WALKS and _by_org_only(plan):
            wrong[case] = plan
    assert not wrong, "\n\n".join(f"{case}:\n{plan}" for case, plan in wrong.items())
