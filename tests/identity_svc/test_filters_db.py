"""Compiled filters, run on a real Postgres.

Each returns exactly the expected rows and never another org's, every allowlisted
attribute/operator pair is valid SQL, and the hot filters use their indexes.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db import filters
from identity_svc.db.filters import (
    MultiValued,
    Resource,
    SqlParams,
    compile_filter,
    compile_member_filter,
    order_by,
)
from identity_svc.domain.errors import InvalidFilter
from tests.unit.test_filters import NO_VALUE, _filters, and_, cmp, not_, or_, sort, vpath

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# The filters compiled below are allowlisted SQL plus $n placeholders only.
SELECT_USERS = "SELECT u.id FROM users u WHERE u.org_id = $1 AND ({}) ORDER BY {}"
SELECT_GROUPS = "SELECT g.id FROM groups g WHERE g.org_id = $1 AND ({}) ORDER BY {}"
SELECT_MEMBERS = (
    "SELECT gm.user_id FROM group_members gm WHERE gm.org_id = $1 AND gm.group_id = $2 AND ({})"
)


@dataclass(frozen=True)
class World:
    org_a: str
    org_b: str
    u1: uuid.UUID  # Alice: work + home email, title, employeeNumber
    u2: uuid.UUID  # bob: inactive, home email only, no displayName
    u3: uuid.UUID  # carol: no emails, no externalId, empty title
    v1: uuid.UUID  # org B's Alice: same userName, externalId and email as u1
    g1: uuid.UUID  # org A "Engineers": u1, u2
    g2: uuid.UUID  # org A "Empty"
    h1: uuid.UUID  # org B "Engineers": v1

    @property
    def all_a(self) -> set[uuid.UUID]:
        return {self.u1, self.u2, self.u3}


INSERT_USER = """
INSERT INTO users (org_id, id, user_name, external_id, active, display_name,
                   document, created, last_modified)
VALUES ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8::text::timestamptz, $8::text::timestamptz)
"""
INSERT_VALUE = """
INSERT INTO user_values (org_id, user_id, attribute, position, value, type, is_primary)
VALUES ($1, $2, 'emails', $3, $4, $5, $6)
"""
INSERT_GROUP = "INSERT INTO groups (org_id, id, display_name, member_count) VALUES ($1, $2, $3, $4)"
INSERT_MEMBER = "INSERT INTO group_members (org_id, group_id, user_id) VALUES ($1, $2, $3)"


async def _seed(conn: asyncpg.Connection) -> World:
    suffix = secrets.token_hex(4)
    w = World(f"flt-a-{suffix}", f"flt-b-{suffix}", *(uuid.uuid4() for _ in range(7)))
    await conn.executemany(
        "INSERT INTO orgs (org_id, name) VALUES ($1, $2)", [(w.org_a, "A"), (w.org_b, "B")]
    )
    alice_doc = {"title": "Engineer", ENTERPRISE: {"employeeNumber": "100"}}
    users: list[Sequence[Any]] = [
        (w.org_a, w.u1, "Alice@Example.com", "ext-1", True, "Alice A", alice_doc, "2024-01-01"),
        (w.org_a, w.u2, "bob@example.com", "EXT-2", False, None, {}, "2024-06-01"),
        (w.org_a, w.u3, "carol_c@other.org", None, True, None, {"title": ""}, "2025-01-01"),
        (w.org_b, w.v1, "alice@example.com", "ext-1", True, "Alice A", alice_doc, "2024-01-01"),
    ]
    await conn.executemany(
        INSERT_USER,
        [(*row[:6], json.dumps(row[6]), f"{row[7]}T00:00:00Z") for row in users],
    )
    await conn.executemany(
        INSERT_VALUE,
        [
            (w.org_a, w.u1, 0, "alice@x.org", "work", True),
            (w.org_a, w.u1, 1, "alice@home.net", "home", False),
            (w.org_a, w.u2, 0, "bob@x.org", "home", False),
            (w.org_b, w.v1, 0, "alice@x.org", "work", True),
        ],
    )
    await conn.executemany(
        INSERT_GROUP,
        [
            (w.org_a, w.g1, "Engineers", 2),
            (w.org_a, w.g2, "Empty", 0),
            (w.org_b, w.h1, "Engineers", 1),
        ],
    )
    await conn.executemany(
        INSERT_MEMBER, [(w.org_a, w.g1, w.u1), (w.org_a, w.g1, w.u2), (w.org_b, w.h1, w.v1)]
    )
    return w


@pytest.fixture
async def world(conn: asyncpg.Connection) -> World:
    return await _seed(conn)


async def user_ids(conn: asyncpg.Connection, org: str, expr: pb.Filter) -> set[uuid.UUID]:
    params = SqlParams(org)
    sql = SELECT_USERS.format(
        compile_filter(Resource.USERS, expr, params), order_by(Resource.USERS, None)
    )
    return {row["id"] for row in await conn.fetch(sql, *params.args)}


async def group_ids(conn: asyncpg.Connection, org: str, expr: pb.Filter) -> set[uuid.UUID]:
    params = SqlParams(org)
    where = compile_filter(Resource.GROUPS, expr, params)
    sql = SELECT_GROUPS.format(where, order_by(Resource.GROUPS, None))
    return {row["id"] for row in await conn.fetch(sql, *params.args)}


# ---------------------------------------------------------------- users

USER_CASES: list[tuple[pb.Filter, str]] = [
    # userName: case-insensitive; LIKE metacharacters are literal
    (cmp("userName", pb.EQ, "ALICE@example.COM"), "u1"),
    (cmp("username", pb.NE, "alice@example.com"), "u2 u3"),
    (cmp("userName", pb.CO, "EXAMPLE"), "u1 u2"),
    (cmp("userName", pb.CO, "_"), "u3"),
    (cmp("userName", pb.CO, "%"), ""),
    (cmp("userName", pb.SW, "Bob"), "u2"),
    (cmp("userName", pb.EW, "@OTHER.org"), "u3"),
    (cmp("userName", pb.GT, "bob@example.com"), "u3"),
    (cmp("userName", pb.GE, "BOB@example.com"), "u2 u3"),
    (cmp("userName", pb.LT, "bob@example.com"), "u1"),
    (cmp("userName", pb.LE, "bob@example.com"), "u1 u2"),
    (cmp("userName", pb.PR), "u1 u2 u3"),
    # emails: one row a value in user_values
    (cmp("emails", pb.EQ, "ALICE@x.org"), "u1"),
    (cmp("emails.value", pb.NE, "alice@x.org"), "u2 u3"),
    (cmp("emails.value", pb.CO, "@X.ORG"), "u1 u2"),
    (cmp("emails", pb.SW, "bob"), "u2"),
    (cmp("emails", pb.EW, "home.net"), "u1"),
    (cmp("emails.value", pb.GT, "b"), "u2"),
    (cmp("emails.value", pb.LE, "alice@x.org"), "u1"),
    (cmp("emails", pb.PR), "u1 u2"),
    (cmp("emails", pb.EQ, None), "u3"),
    (cmp("emails.type", pb.EQ, "WORK"), "u1"),
    (cmp("emails.primary", pb.EQ, True), "u1"),
    (cmp("emails.primary", pb.NE, True), "u2 u3"),
    # value paths: every condition holds for the same email
    (vpath("emails", and_(cmp("type", pb.EQ, "work"), cmp("value", pb.CO, "@x"))), "u1"),
    (vpath("emails", and_(cmp("type", pb.EQ, "home"), cmp("value", pb.CO, "@x"))), "u2"),
    (vpath("emails", and_(cmp("type", pb.EQ, "work"), cmp("value", pb.CO, "home"))), ""),
    # Entra: emails[type eq "work"].value eq "x"
    (vpath("emails", and_(cmp("type", pb.EQ, "work"), cmp("value", pb.EQ, "Alice@X.org"))), "u1"),
    (vpath("emails", or_(cmp("primary", pb.EQ, True), not_(cmp("type", pb.EQ, "home")))), "u1"),
    # active
    (cmp("active", pb.EQ, True), "u1 u3"),
    (cmp("active", pb.EQ, False), "u2"),
    (cmp("active", pb.NE, True), "u2"),
    (cmp("active", pb.PR), "u1 u2 u3"),
    # meta.lastModified: ISO 8601 with offsets
    (cmp("meta.lastModified", pb.GT, "2024-03-01T00:00:00Z"), "u2 u3"),
    (cmp("meta.lastModified", pb.GE, "2024-06-01T00:00:00Z"), "u2 u3"),
    (cmp("meta.lastModified", pb.LT, "2024-06-01T00:00:00+00:00"), "u1"),
    (cmp("meta.lastModified", pb.LE, "2024-06-01T02:00:00+02:00"), "u1 u2"),
    (cmp("meta.lastModified", pb.EQ, "2024-06-01T00:00:00Z"), "u2"),
    (cmp("meta.lastModified", pb.NE, "2024-06-01T00:00:00Z"), "u1 u3"),
    (cmp("meta.lastModified", pb.PR), "u1 u2 u3"),
    # externalId: case-exact; absent is "not equal"
    (cmp("externalId", pb.EQ, "ext-1"), "u1"),
    (cmp("externalId", pb.EQ, "EXT-1"), ""),
    (cmp("externalId", pb.NE, "ext-1"), "u2 u3"),
    (cmp("externalId", pb.CO, "xt"), "u1"),
    (cmp("externalId", pb.SW, "EXT"), "u2"),
    (cmp("externalId", pb.EW, "-2"), "u2"),
    (cmp("externalId", pb.PR), "u1 u2"),
    (cmp("externalId", pb.EQ, None), "u3"),
    # not() over absent attributes still matches
    (not_(cmp("title", pb.EQ, "Engineer")), "u2 u3"),
    (not_(cmp("displayName", pb.EQ, "alice a")), "u2 u3"),
    (not_(cmp("externalId", pb.SW, "ext")), "u2 u3"),
    (not_(vpath("emails", cmp("type", pb.EQ, "work"))), "u2 u3"),
    (not_(not_(cmp("title", pb.EQ, "engineer"))), "u1"),
    (cmp("title", pb.PR), "u1"),
    # the enterprise extension, with and without its URN
    (cmp("employeeNumber", pb.EQ, "100", uri=ENTERPRISE), "u1"),
    (cmp("EMPLOYEENUMBER", pb.PR), "u1"),
    (and_(cmp("active", pb.EQ, True), or_(cmp("title", pb.PR), cmp("emails", pb.PR))), "u1"),
]


@pytest.mark.parametrize(("expr", "expected"), USER_CASES)
async def test_user_filters_return_exactly_the_expected_users(conn, world, expr, expected):
    names = {getattr(world, name) for name in expected.split()}
    assert await user_ids(conn, world.org_a, expr) == names


async def test_ids_and_malformed_ids(conn, world):
    assert await user_ids(conn, world.org_a, cmp("id", pb.EQ, str(world.u1).upper())) == {world.u1}
    assert await user_ids(conn, world.org_a, cmp("id", pb.NE, str(world.u1))) == {
        world.u2,
        world.u3,
    }
    assert await user_ids(conn, world.org_a, cmp("id", pb.EQ, str(world.v1))) == set()
    for malformed in ("not-a-uuid", "", "1' OR '1'='1", str(world.u1) + "0"):
        assert await user_ids(conn, world.org_a, cmp("id", pb.EQ, malformed)) == set()
        assert await user_ids(conn, world.org_a, cmp("id", pb.NE, malformed)) == world.all_a
        assert await group_ids(conn, world.org_a, cmp("members", pb.EQ, malformed)) == set()
        assert await user_ids(conn, world.org_a, cmp("groups", pb.EQ, malformed)) == set()


async def test_users_groups_attribute(conn, world):
    assert await user_ids(conn, world.org_a, cmp("groups", pb.EQ, str(world.g1))) == {
        world.u1,
        world.u2,
    }
    assert await user_ids(conn, world.org_a, cmp("groups.display", pb.EQ, "engineers")) == {
        world.u1,
        world.u2,
    }
    assert await user_ids(conn, world.org_a, cmp("groups", pb.EQ, str(world.h1))) == set()
    assert await user_ids(conn, world.org_a, not_(cmp("groups", pb.PR))) == {world.u3}


# ---------------------------------------------------------------- groups


async def test_group_filters(conn, world):
    a = world.org_a
    assert await group_ids(conn, a, cmp("members", pb.EQ, str(world.u1))) == {world.g1}
    assert await group_ids(conn, a, cmp("members.value", pb.EQ, str(world.u2))) == {world.g1}
    assert await group_ids(conn, a, cmp("members", pb.EQ, str(world.v1))) == set()
    entra = and_(cmp("id", pb.EQ, str(world.g1)), cmp("members", pb.EQ, str(world.u1)))
    assert await group_ids(conn, a, entra) == {world.g1}
    entra = and_(cmp("id", pb.EQ, str(world.g2)), cmp("members", pb.EQ, str(world.u1)))
    assert await group_ids(conn, a, entra) == set()
    assert await group_ids(conn, a, cmp("members", pb.PR)) == {world.g1}
    assert await group_ids(conn, a, not_(cmp("members", pb.PR))) == {world.g2}
    assert await group_ids(conn, a, cmp("members", pb.NE, str(world.u1))) == {world.g2}
    assert await group_ids(conn, a, cmp("members.display", pb.EQ, "alice a")) == {world.g1}
    # display is the member's displayName: bob has none, so nothing to match.
    assert await group_ids(conn, a, cmp("members.display", pb.SW, "BOB@")) == set()
    member_path = vpath(
        "members", and_(cmp("type", pb.EQ, "user"), cmp("value", pb.EQ, str(world.u2)))
    )
    assert await group_ids(conn, a, member_path) == {world.g1}
    assert await group_ids(conn, a, cmp("displayName", pb.EQ, "ENGINEERS")) == {world.g1}
    assert await group_ids(conn, a, cmp("displayName", pb.CO, "mpt")) == {world.g2}


async def test_member_filters_select_rows_of_one_group(conn, world):
    async def members(expr: pb.Filter) -> set[uuid.UUID]:
        params = SqlParams(world.org_a, world.g1)
        sql = SELECT_MEMBERS.format(compile_member_filter(expr, params))
        return {row["user_id"] for row in await conn.fetch(sql, *params.args)}

    assert await members(cmp("value", pb.EQ, str(world.u1))) == {world.u1}
    assert await members(cmp("value", pb.EQ, "garbage")) == set()
    assert await members(cmp("display", pb.CO, "BOB")) == set()
    assert await members(cmp("display", pb.CO, "ALICE")) == {world.u1}
    assert await members(cmp("display", pb.EQ, "Alice A")) == {world.u1}
    assert await members(cmp("type", pb.EQ, "User")) == {world.u1, world.u2}
    assert await members(not_(cmp("value", pb.EQ, str(world.u1)))) == {world.u2}


# ---------------------------------------------------------------- tenancy


ESCAPES = [
    or_(cmp("userName", pb.PR), cmp("id", pb.PR)),
    or_(cmp("userName", pb.EQ, "alice@example.com"), cmp("externalId", pb.EQ, "ext-1")),
    not_(cmp("userName", pb.EQ, "nobody")),
    or_(cmp("userName", pb.EQ, "x') OR u.org_id <> ('"), cmp("emails", pb.PR)),
    or_(cmp("emails", pb.EQ, "alice@x.org"), not_(cmp("active", pb.EQ, False))),
    cmp("emails", pb.NE, "nobody@x.org"),
]


@pytest.mark.parametrize("expr", ESCAPES)
async def test_filters_never_return_another_orgs_users(conn, world, expr):
    found = await user_ids(conn, world.org_a, expr)
    assert found
    assert found <= world.all_a
    assert await user_ids(conn, world.org_b, expr) == {world.v1}


async def test_group_filters_never_return_another_orgs_groups(conn, world):
    expr = or_(cmp("displayName", pb.PR), cmp("id", pb.PR), cmp("members", pb.PR))
    assert await group_ids(conn, world.org_a, expr) == {world.g1, world.g2}
    assert await group_ids(conn, world.org_b, expr) == {world.h1}


# ---------------------------------------------------------------- order


async def test_order_by_sorts_case_insensitively_with_stable_ties(conn, world):
    params = SqlParams(world.org_a)
    where = compile_filter(Resource.USERS, cmp("userName", pb.PR), params)
    sql = SELECT_USERS.format(where, order_by(Resource.USERS, sort("userName", True)))
    assert [row["id"] for row in await conn.fetch(sql, *params.args)] == [
        world.u3,
        world.u2,
        world.u1,
    ]
    sql = SELECT_USERS.format(where, order_by(Resource.USERS, sort("meta.lastModified", True)))
    assert [row["id"] for row in await conn.fetch(sql, *params.args)] == [
        world.u3,
        world.u2,
        world.u1,
    ]
    sql = SELECT_USERS.format(where, order_by(Resource.USERS, None))
    assert [row["id"] for row in await conn.fetch(sql, *params.args)] == [
        world.u1,
        world.u2,
        world.u3,
    ]


# ---------------------------------------------------------------- every pair is valid SQL

_VALUES: list[object] = [
    "x",
    "2024-01-01T00:00:00Z",
    str(uuid.UUID(int=1)),
    "not-a-uuid",
    True,
    None,
]


def _paths(table: dict[str, filters.Attribute]) -> list[str]:
    paths: list[str] = []
    for key, attribute in table.items():
        paths.append(key)
        if isinstance(attribute, MultiValued):
            paths += [f"{key}.{sub}" for sub in attribute.subs]
    return paths


def _all_comparisons(paths: list[str], uri: str = "") -> list[pb.Filter]:
    ops = [op for op in pb.CompareOperator.values() if op]
    return [
        cmp(path, op, value, uri) for path in paths for op in ops for value in (*_VALUES, NO_VALUE)
    ]


async def _run_all(conn, world, resource: Resource, exprs: list[pb.Filter]) -> int:
    template = SELECT_USERS if resource is Resource.USERS else SELECT_GROUPS
    compiled = 0
    for expr in exprs:
        params = SqlParams(world.org_a)
        try:
            where = compile_filter(resource, expr, params)
        except InvalidFilter:
            continue
        await conn.fetch(template.format(where, order_by(resource, None)), *params.args)
        compiled += 1
    return compiled


@pytest.mark.parametrize("resource", list(Resource))
async def test_every_allowlisted_attribute_and_operator_is_valid_sql(conn, world, resource):
    exprs: list[pb.Filter] = []
    for uri, table in filters._SCHEMAS[resource].items():
        exprs += _all_comparisons(_paths(dict(table)), uri)
        for attribute in table.values():
            if isinstance(attribute, MultiValued):
                exprs += [
                    vpath(attribute.key, inner) for inner in _all_comparisons(list(attribute.subs))
                ]
    assert await _run_all(conn, world, resource, exprs) > len(exprs) // 4


async def test_every_member_filter_is_valid_sql(conn, world):
    for expr in _all_comparisons(list(filters.MEMBERS.subs)):
        params = SqlParams(world.org_a, world.g1)
        try:
            where = compile_member_filter(expr, params)
        except InvalidFilter:
            continue
        await conn.fetch(SELECT_MEMBERS.format(where), *params.args)


# ---------------------------------------------------------------- plans


async def _plan(conn: asyncpg.Connection, expr: pb.Filter, org: str) -> str:
    params = SqlParams(org)
    where = compile_filter(Resource.USERS, expr, params)
    sql = "EXPLAIN " + SELECT_USERS.format(where, order_by(Resource.USERS, None))
    return "\n".join(row[0] for row in await conn.fetch(sql, *params.args))


async def test_hot_filters_use_their_indexes(conn, world):
    await conn.execute(
        """
        INSERT INTO users (org_id, id, user_name, document)
        SELECT $1, gen_random_uuid(), 'user' || i || '@bulk.example', '{}'
        FROM generate_series(1, 2000) AS i
        """,
        world.org_a,
    )
    await conn.execute(
        """
        INSERT INTO user_values (org_id, user_id, attribute, position, value, type)
        SELECT org_id, id, 'emails', 0, user_name, 'work'
        FROM users
        WHERE org_id = $1 AND user_name LIKE '%@bulk.example'
        """,
        world.org_a,
    )
    await conn.execute("ANALYZE users")
    await conn.execute("ANALYZE user_values")
    plan = await _plan(conn, cmp("userName", pb.EQ, "USER42@bulk.example"), world.org_a)
    assert "users_user_name_key" in plan, plan
    plan = await _plan(conn, cmp("emails.value", pb.EQ, "user42@BULK.example"), world.org_a)
    assert "user_values_value" in plan, plan
    entra = vpath(
        "emails", and_(cmp("type", pb.EQ, "work"), cmp("value", pb.EQ, "user7@bulk.example"))
    )
    assert "user_values_value" in await _plan(conn, entra, world.org_a)
    bulk = await user_ids(conn, world.org_a, cmp("emails", pb.EQ, "USER42@bulk.example"))
    assert len(bulk) == 1


# ---------------------------------------------------------------- property
# No filter, however hostile, reaches another org's rows: random ASTs
# (allowlisted and garbage names, any operator and value, nesting, value
# paths) either are refused with InvalidFilter or run as valid SQL returning
# only the queried org's rows.

_TABLES = {Resource.USERS: ("users", "u"), Resource.GROUPS: ("groups", "g")}


@pytest.mark.parametrize("resource", list(Resource))
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_a_filter_never_escapes_its_org(
    conn: asyncpg.Connection, world: World, resource: Resource, data: st.DataObject
) -> None:
    expr = data.draw(_filters(resource))
    params = SqlParams(world.org_a)
    try:
        condition = compile_filter(resource, expr, params)
    except InvalidFilter:
        return
    table, alias = _TABLES[resource]
    query = (
        f"SELECT {alias}.org_id FROM {table} {alias} WHERE {alias}.org_id = $1 AND ({condition})"  # noqa: S608
    )
    async with conn.transaction():  # a savepoint: an SQL error fails this example only
        rows = await conn.fetch(query, *params.args)
    assert {r["org_id"] for r in rows} <= {world.org_a}
