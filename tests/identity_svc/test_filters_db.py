"""Compiled filters, run on a real Postgres through the product's own statements.

Listings go through db/listing.py (the SQL ListUsers and ListGroups run) and
member filters through GroupsRepository.remove_members_where (the SQL a PATCH
`remove members[...]` runs, rolled back). Each filter returns exactly the
expected rows and never another org's, every allowlisted attribute/operator pair
is valid SQL, and the hot filters use their indexes. The property that no
filter escapes its org, over generated filters and the RPCs, is in
test_tenancy.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db import filter_attributes
from identity_svc.db.filter_attributes import MultiValued, Resource
from identity_svc.db.groups import GROUP_COLUMNS, GroupsRepository
from identity_svc.db.listing import list_rows
from identity_svc.db.users import USER_COLUMNS
from identity_svc.domain.errors import InvalidFilter
from tests.unit.test_filters import NO_VALUE, and_, cmp, not_, or_, sort, vpath

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PAGE = 1000  # every row of the small world fits one page


@dataclass(frozen=True)
class World:
    org_a: str
    org_b: str
    u1: uuid.UUID  # Alice: work + home email, title, employeeNumber
    u2: uuid.UUID  # bob: inactive, home email only, no displayName
    u3: uuid.UUID  # carol: no emails, no externalId, empty title
    v1: uuid.UUID  # org B's Alice (userName, externalId, email as u1) under u3's id
    g1: uuid.UUID  # org A "Engineers": u1, u2
    g2: uuid.UUID  # org A "Empty"
    h1: uuid.UUID  # org B "Engineers": v1, under g1's id

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
    # B reuses A's ids, so a condition that loses its org scope mixes B's rows in.
    u1, u2, u3, g1, g2 = (uuid.uuid4() for _ in range(5))
    w = World(f"flt-a-{suffix}", f"flt-b-{suffix}", u1, u2, u3, u3, g1, g2, g1)
    await conn.executemany(
        "INSERT INTO orgs (org_id, name) VALUES ($1, $2)", [(w.org_a, "A"), (w.org_b, "B")]
    )
    alice_doc = {
        "title": "Engineer",
        "name": {"givenName": "Alice", "formatted": "Alice A"},
        "addresses": [{"formatted": "1 Main St", "type": "work", "primary": True}],
        ENTERPRISE: {"employeeNumber": "100"},
    }
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


async def _listed(
    conn: asyncpg.Connection,
    resource: Resource,
    org: str,
    request: pb.ListUsersRequest | pb.ListGroupsRequest,
) -> list[uuid.UUID]:
    columns = USER_COLUMNS if resource is Resource.USERS else GROUP_COLUMNS
    listed = await list_rows(conn, resource, org, columns, request, PAGE)
    assert {row["org_id"] for row in listed.rows} <= {org}
    return [row["id"] for row in listed.rows]


async def user_ids(conn: asyncpg.Connection, org: str, expr: pb.Filter) -> set[uuid.UUID]:
    """The org's users matching `expr`, as ListUsers finds them."""
    return set(await _listed(conn, Resource.USERS, org, pb.ListUsersRequest(filter=expr)))


async def group_ids(conn: asyncpg.Connection, org: str, expr: pb.Filter) -> set[uuid.UUID]:
    """The org's groups matching `expr`, as ListGroups finds them."""
    request = pb.ListGroupsRequest(filter=expr)
    return set(await _listed(conn, Resource.GROUPS, org, request))


async def removed_members(
    conn: asyncpg.Connection, org: str, group: uuid.UUID, expr: pb.Filter
) -> set[uuid.UUID]:
    """Whom a PATCH `remove members[expr]` on `group` deletes; rolled back."""
    repo = GroupsRepository(conn)
    tx = conn.transaction()  # a savepoint inside the test's transaction
    await tx.start()
    try:
        removed = await repo.remove_members_where(org, str(group), expr)
    finally:
        await tx.rollback()
    return {uuid.UUID(user_id) for user_id in removed}


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
    # Attributes kept only in the document are filterable too (unindexed), complex ones
    # by presence and their sub-attributes, multi-valued ones value by value.
    (cmp("name", pb.PR), "u1"),
    (cmp("name.formatted", pb.CO, "alice"), "u1"),
    (cmp("addresses", pb.PR), "u1"),
    (cmp("addresses.formatted", pb.CO, "MAIN"), "u1"),
    (cmp("addresses.formatted", pb.EQ, None), "u2 u3"),
    (vpath("addresses", and_(cmp("type", pb.EQ, "work"), cmp("primary", pb.EQ, True))), "u1"),
    (vpath("addresses", cmp("type", pb.EQ, "home")), ""),
]


@pytest.mark.parametrize(
    "expr",
    [cmp("name", pb.EQ, "Alice"), cmp("addresses", pb.CO, "Main"), cmp("password", pb.PR)],
)
async def test_what_cannot_be_compared_is_an_invalid_filter(conn, world, expr):
    with pytest.raises(InvalidFilter):
        await user_ids(conn, world.org_a, expr)


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
    # A group's id names no user.
    assert await user_ids(conn, world.org_a, cmp("id", pb.EQ, str(world.g1))) == set()
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
    assert await user_ids(conn, world.org_a, cmp("groups", pb.EQ, str(world.g2))) == set()
    # B's v1, a member under u3's id, makes u3 no member in A.
    assert await user_ids(conn, world.org_a, not_(cmp("groups", pb.PR))) == {world.u3}


# ---------------------------------------------------------------- groups


async def test_group_filters(conn, world):
    a = world.org_a
    assert await group_ids(conn, a, cmp("members", pb.EQ, str(world.u1))) == {world.g1}
    assert await group_ids(conn, a, cmp("members.value", pb.EQ, str(world.u2))) == {world.g1}
    # v1 (u3's id) is a member of B's group with g1's id, not of A's g1.
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
        return await removed_members(conn, world.org_a, world.g1, expr)

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
    async def ordered(by: pb.SortOrder | None) -> list[uuid.UUID]:
        request = pb.ListUsersRequest(filter=cmp("userName", pb.PR), sort=by)
        return await _listed(conn, Resource.USERS, world.org_a, request)

    assert await ordered(sort("userName", True)) == [world.u3, world.u2, world.u1]
    assert await ordered(sort("meta.lastModified", True)) == [world.u3, world.u2, world.u1]
    assert await ordered(None) == [world.u1, world.u2, world.u3]


# ---------------------------------------------------------------- every pair is valid SQL

_VALUES: list[object] = [
    "x",
    "2024-01-01T00:00:00Z",
    str(uuid.UUID(int=1)),
    "not-a-uuid",
    True,
    None,
]


def _paths(table: dict[str, filter_attributes.Attribute]) -> list[str]:
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


@pytest.mark.parametrize("resource", list(Resource))
async def test_every_allowlisted_attribute_and_operator_is_valid_sql(conn, world, resource):
    exprs: list[pb.Filter] = []
    for uri, table in filter_attributes.SCHEMAS[resource].items():
        exprs += _all_comparisons(_paths(dict(table)), uri)
        for attribute in table.values():
            if isinstance(attribute, MultiValued):
                exprs += [
                    vpath(attribute.key, inner) for inner in _all_comparisons(list(attribute.subs))
                ]
    find = user_ids if resource is Resource.USERS else group_ids
    everything = world.all_a if resource is Resource.USERS else {world.g1, world.g2}
    ran = 0
    for expr in exprs:
        try:
            found = await find(conn, world.org_a, expr)
        except InvalidFilter:
            continue
        assert found <= everything, expr
        ran += 1
    assert ran > len(exprs) // 4


async def test_every_member_filter_is_valid_sql(conn, world):
    ran, matched = 0, 0
    for expr in _all_comparisons(list(filter_attributes.MEMBERS.subs)):
        try:
            removed = await removed_members(conn, world.org_a, world.g1, expr)
        except InvalidFilter:
            continue
        # Only g1's own members, never B's row under the same group id.
        assert removed <= {world.u1, world.u2}, expr
        ran, matched = ran + 1, matched + bool(removed)
    assert ran > 50
    assert 0 < matched < ran


# ---------------------------------------------------------------- plans


async def _plans(conn: asyncpg.Connection, org: str, expr: pb.Filter) -> list[str]:
    """EXPLAIN each statement a ListUsers with `expr` runs: its count, then its page."""
    logged: list[asyncpg.connection.LoggedQuery] = []
    conn.add_query_logger(logged.append)
    try:
        found = await user_ids(conn, org, expr)
        await asyncio.sleep(0)  # query loggers are called soon, not at once
    finally:
        conn.remove_query_logger(logged.append)
    assert len(found) == 1
    assert [r.query.split()[:2] for r in logged] == [["SELECT", "count(*)"], ["SELECT", "u.id,"]]
    plans = []
    for record in logged:
        rows = await conn.fetch(f"EXPLAIN {record.query}", *record.args)
        plans.append("\n".join(row[0] for row in rows))
    return plans


async def test_hot_filters_use_their_indexes(conn, world):
    await conn.execute(
        """
        INSERT INTO users (org_id, id, user_name, document)
        SELECT $1, gen_random_uuid(), 'user' || i || '@bulk.example',
            jsonb_build_object('title', 'Title ' || i)
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
    entra = vpath(
        "emails", and_(cmp("type", pb.EQ, "work"), cmp("value", pb.EQ, "user7@bulk.example"))
    )
    hot = [
        (cmp("userName", pb.EQ, "USER42@bulk.example"), "users_user_name_key"),
        (cmp("emails.value", pb.EQ, "user42@BULK.example"), "user_values_value"),
        (entra, "user_values_value"),
        # Declared DocumentIndex: its path in the document is what the index covers.
        (cmp("title", pb.EQ, "title 42"), "users_title"),
    ]
    for expr, index in hot:
        for plan in await _plans(conn, world.org_a, expr):
            assert index in plan, plan
            assert "Seq Scan on users" not in plan, plan
            assert "Seq Scan on user_values" not in plan, plan
