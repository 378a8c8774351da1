"""Users, groups and memberships bulk-inserted for the scenarios.

Users are stored as the identity service would store what Okta creates: the
same normalized document and derived columns (identity_svc.domain.user_document),
and one user_values row per email. Groups and memberships are rows of `groups`
and `group_members`, with the group's `member_count` (and `version`) kept as
identity_svc/db/groups.py keeps them.

Seeding is batched and streams: memory stays flat at any count (`--users
1000000`). A seeded user is a function of its index (SeededUsers), so the
bench never holds a list of them either.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import asyncpg

from identity_svc.domain.models import MultiValue
from identity_svc.domain.user_document import derive_user_fields, normalize_user_document

CORE_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"

_BATCH = 5000
_MEMBER_BATCH = 20_000

_INSERT_USERS = """
INSERT INTO users (org_id, id, user_name, external_id, active, display_name,
    given_name, family_name, primary_email, document)
SELECT $1, u.id, u.user_name, u.external_id, true, u.display_name,
    u.given_name, u.family_name, u.primary_email, u.document::jsonb
FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
    $9::text[]) AS u(id, user_name, external_id, display_name, given_name, family_name,
    primary_email, document)
"""

_INSERT_EMAILS = """
INSERT INTO user_values (org_id, user_id, attribute, position, value, type, is_primary)
SELECT $1, v.user_id, 'emails', 0, v.value, 'work', true
FROM unnest($2::uuid[], $3::text[]) AS v(user_id, value)
"""

# The rows identity_svc/db/groups.py writes for new memberships, and the
# count and version it bumps on the group row in the same transaction.
_INSERT_MEMBERS = """
INSERT INTO group_members (org_id, group_id, user_id)
SELECT $1, $2, m.user_id
FROM unnest($3::uuid[]) AS m(user_id)
ON CONFLICT (org_id, group_id, user_id) DO NOTHING
"""

_COUNT_MEMBERS = """
UPDATE groups AS g
SET member_count = g.member_count + $3, version = g.version + 1,
    last_modified = clock_timestamp()
WHERE g.org_id = $1 AND g.id = $2
"""

_INSERT_GROUPS = """
INSERT INTO groups (org_id, id, display_name)
SELECT $1, g.id, g.display_name
FROM unnest($2::uuid[], $3::text[]) AS g(id, display_name)
"""

# The email row every seeded user has: the service derives exactly this one.
_EMAIL = MultiValue("emails", 0, None, "work", None, True)


@dataclass(frozen=True)
class SeedUser:
    id: str
    user_name: str
    external_id: str


def okta_user(user_name: str, given: str, family: str, external_id: str) -> dict[str, Any]:
    """The body Okta POSTs to /Users (SPEC §3, "What Okta sends")."""
    return {
        "schemas": [CORE_USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }


def seed_user_name(index: int) -> str:
    return f"seed.user{index}@bench.example"


def _seed_body(index: int) -> dict[str, Any]:
    return okta_user(seed_user_name(index), "Seed", f"User{index}", f"seed-{index}")


class SeededUsers(Sequence[SeedUser]):
    """An org's seeded users, by creation order; each one is computed from its index.

    Ids are a random 96-bit prefix per org plus the index, so they need no
    storage, and they sort in creation order like the rows' `created`.
    """

    def __init__(self, prefix: int, indices: range) -> None:
        self._prefix = prefix
        self._indices = indices

    @classmethod
    def fresh(cls, count: int) -> SeededUsers:
        return cls(secrets.randbits(96) << 32, range(count))

    def id_of(self, position: int) -> uuid.UUID:
        return uuid.UUID(int=self._prefix | self._indices[position], version=4)

    def uuids(self) -> list[uuid.UUID]:
        return [uuid.UUID(int=self._prefix | i, version=4) for i in self._indices]

    def __len__(self) -> int:
        return len(self._indices)

    @overload
    def __getitem__(self, position: int) -> SeedUser: ...

    @overload
    def __getitem__(self, position: slice) -> SeededUsers: ...

    def __getitem__(self, position: int | slice) -> SeedUser | SeededUsers:
        if isinstance(position, slice):
            return SeededUsers(self._prefix, self._indices[position])
        index = self._indices[position]
        return SeedUser(str(self.id_of(position)), seed_user_name(index), f"seed-{index}")

    def __iter__(self) -> Iterator[SeedUser]:
        return (self[position] for position in range(len(self)))


class _Rows:
    """The columns of seeded users, filled in from one normalized template.

    Normalizing every user costs ~50 µs in Python (a minute for 1M users), so
    the service's normalization runs once on a template with a marker index,
    and is checked again on the first and last user of every batch.
    """

    _MARK = "987654321"

    def __init__(self) -> None:
        document = normalize_user_document(_seed_body(int(self._MARK)))
        fields = derive_user_fields(document)
        self._template = (
            fields.user_name,
            fields.external_id,
            fields.display_name,
            fields.given_name,
            fields.family_name,
            fields.primary_email,
            json.dumps(document),
        )

    def row(self, index: int) -> list[str]:
        mark, text = self._MARK, str(index)
        return [str(column).replace(mark, text) for column in self._template]

    def check(self, index: int) -> None:
        """Fail loudly if the service would now store something else for this user."""
        document = normalize_user_document(_seed_body(index))
        fields = derive_user_fields(document)
        expected = [
            fields.user_name,
            fields.external_id,
            fields.display_name,
            fields.given_name,
            fields.family_name,
            fields.primary_email,
        ]
        row = self.row(index)
        values = [(v.attribute, v.position, v.type, v.display, v.primary) for v in fields.values]
        want = [(_EMAIL.attribute, _EMAIL.position, _EMAIL.type, _EMAIL.display, _EMAIL.primary)]
        if (
            row[:6] != expected
            or json.loads(row[6]) != document
            or values != want
            or fields.values[0].value != fields.primary_email
        ):
            raise RuntimeError(f"bench seed: the service now stores user {index} differently")

    def columns(self, first: int, stop: int) -> list[list[str]]:
        self.check(first)
        self.check(stop - 1)
        rows = [self.row(i) for i in range(first, stop)]
        return [list(column) for column in zip(*rows, strict=True)]


async def settle(db: asyncpg.Connection | asyncpg.Pool, *tables: str) -> None:
    """VACUUM ANALYZE after a bulk insert.

    Plans get fresh statistics, and no autovacuum is left to start (and spend
    Postgres CPU, which the bench counts) in the middle of a measurement.
    """
    for table in tables:
        await db.execute(f"VACUUM (ANALYZE) {table}")


async def seed_users(database_url: str, org_id: str, count: int) -> SeededUsers:
    """Insert `count` users in batches; returns them in creation order."""
    users = SeededUsers.fresh(count)
    rows = _Rows()
    conn = await asyncpg.connect(database_url)
    try:
        for first in range(0, count, _BATCH):
            stop = min(first + _BATCH, count)
            ids = users[first:stop].uuids()
            columns = rows.columns(first, stop)
            async with conn.transaction():
                await conn.execute(_INSERT_USERS, org_id, ids, *columns)
                await conn.execute(_INSERT_EMAILS, org_id, ids, columns[5])
        await settle(conn, "users", "user_values")
    finally:
        await conn.close()
    return users


async def add_members(
    pool: asyncpg.Pool, org_id: str, group_id: uuid.UUID, users: Sequence[SeedUser]
) -> int:
    """Make `users` members of the group, in batches; returns how many were new."""
    added = 0
    for first in range(0, len(users), _MEMBER_BATCH):
        ids = [uuid.UUID(u.id) for u in users[first : first + _MEMBER_BATCH]]
        async with pool.acquire() as conn, conn.transaction():
            status = await conn.execute(_INSERT_MEMBERS, org_id, group_id, ids)
            inserted = int(status.split()[-1])  # "INSERT 0 n"
            await conn.execute(_COUNT_MEMBERS, org_id, group_id, inserted)
        added += inserted
    return added


async def seed_groups(
    pool: asyncpg.Pool, org_id: str, names: Sequence[str], members: Sequence[Sequence[SeedUser]]
) -> list[uuid.UUID]:
    """Insert groups and their members (members[i] for names[i]); returns their ids."""
    ids = [uuid.uuid4() for _ in names]
    await pool.execute(_INSERT_GROUPS, org_id, ids, list(names))
    for group_id, users in zip(ids, members, strict=True):
        await add_members(pool, org_id, group_id, users)
    await settle(pool, "groups", "group_members")
    return ids
