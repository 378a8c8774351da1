"""The raw asyncpg ceiling: the least SQL that gives each SCIM request's answer.

Each operation runs the statements a hand-written service would need for the
same result, straight from an asyncpg pool of the identity service's size,
with the same SQL shapes as identity_svc/db (same columns, same indexes). Not
included, because they are what the stack adds: the read snapshot
transaction, the row lock before a write, the existence check of new members
and the event rows of every write (SPEC §6).

The user columns are those identity_svc/db/users.py reads (USER_COLUMNS),
spelled out so every statement here is a literal.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from bench.load import Operation
from bench.seed import SeedUser, okta_user
from identity_svc.domain.user_document import normalize_user_document

SELECT_BY_ID = """
SELECT u.id, u.org_id, u.user_name, u.external_id, u.active, u.display_name,
    u.primary_email, u.document, u.direct_role, u.version, u.created, u.last_modified
FROM users u
WHERE u.org_id = $1 AND u.id = $2
"""

SELECT_BY_USER_NAME = """
SELECT u.id, u.org_id, u.user_name, u.external_id, u.active, u.display_name,
    u.primary_email, u.document, u.direct_role, u.version, u.created, u.last_modified
FROM users u
WHERE u.org_id = $1 AND lower(u.user_name) = lower($2)
"""

INSERT_USER = """
INSERT INTO users AS u (org_id, id, user_name, external_id, active, display_name,
    given_name, family_name, primary_email, document)
VALUES ($1, $2, $3, $4, true, $5, $6, $7, $8, $9)
RETURNING u.id, u.org_id, u.user_name, u.external_id, u.active, u.display_name,
    u.primary_email, u.document, u.direct_role, u.version, u.created, u.last_modified
"""

INSERT_EMAIL = """
INSERT INTO user_values (org_id, user_id, attribute, position, value, type, is_primary)
VALUES ($1, $2, 'emails', 0, $3, 'work', true)
"""

UPDATE_USER = """
UPDATE users AS u
SET display_name = $3, family_name = $4, document = $5,
    version = u.version + 1, last_modified = clock_timestamp()
WHERE u.org_id = $1 AND u.id = $2
RETURNING u.id, u.org_id, u.user_name, u.external_id, u.active, u.display_name,
    u.primary_email, u.document, u.direct_role, u.version, u.created, u.last_modified
"""

# totalResults is part of a ListResponse (RFC 7644 §3.4.2), so the count is too.
COUNT_USERS = """
SELECT count(*)
FROM users u
WHERE u.org_id = $1
"""

SELECT_PAGE = """
SELECT u.id, u.org_id, u.user_name, u.external_id, u.active, u.display_name,
    u.primary_email, u.document, u.direct_role, u.version, u.created, u.last_modified
FROM users u
WHERE u.org_id = $1
ORDER BY u.created, u.id
LIMIT 100 OFFSET $2
"""

INSERT_GROUP = """
INSERT INTO groups (org_id, id, display_name)
VALUES ($1, $2, $3)
"""

ADD_MEMBER = """
INSERT INTO group_members (org_id, group_id, user_id)
VALUES ($1, $2, $3)
ON CONFLICT (org_id, group_id, user_id) DO NOTHING
RETURNING user_id
"""

COUNT_MEMBER = """
UPDATE groups AS g
SET member_count = g.member_count + $3, version = g.version + 1,
    last_modified = clock_timestamp()
WHERE g.org_id = $1 AND g.id = $2
"""


def get_by_id(pool: asyncpg.Pool, org_id: str, users: Sequence[SeedUser]) -> Operation:
    async def operation(index: int) -> None:
        user_id = uuid.UUID(users[index % len(users)].id)
        await pool.fetchrow(SELECT_BY_ID, org_id, user_id)

    return operation


def filter_user_name(pool: asyncpg.Pool, org_id: str, users: Sequence[SeedUser]) -> Operation:
    async def operation(index: int) -> None:
        user_name = users[(index * 7919) % len(users)].user_name
        await pool.fetchrow(SELECT_BY_USER_NAME, org_id, user_name)

    return operation


def create_user(pool: asyncpg.Pool, org_id: str, run_id: str) -> Operation:
    async def operation(index: int) -> None:
        user_name = f"ceiling.{run_id}.{index}@bench.example"
        body = okta_user(user_name, "Ceiling", f"User{index}", f"ceiling-{run_id}-{index}")
        document = normalize_user_document(body)
        user_id = uuid.uuid4()
        async with pool.acquire() as conn, conn.transaction():
            await conn.fetchrow(
                INSERT_USER,
                org_id,
                user_id,
                user_name,
                body["externalId"],
                body["displayName"],
                "Ceiling",
                f"User{index}",
                user_name,
                document,
            )
            await conn.execute(INSERT_EMAIL, org_id, user_id, user_name)

    return operation


def put_user(pool: asyncpg.Pool, org_id: str, users: Sequence[SeedUser]) -> Operation:
    async def operation(index: int) -> None:
        user = users[index % len(users)]
        family = f"Ceiling{index}"
        body = okta_user(user.user_name, "Seed", family, user.external_id)
        del body["groups"], body["password"]
        document = normalize_user_document(body)
        await pool.fetchrow(
            UPDATE_USER, org_id, uuid.UUID(user.id), f"Seed {family}", family, document
        )

    return operation


def list_page(pool: asyncpg.Pool, org_id: str, users: Sequence[SeedUser]) -> Operation:
    pages = max(1, len(users) // 100)

    async def operation(index: int) -> None:
        offset = ((index * 37) % pages) * 100
        async with pool.acquire() as conn:
            await conn.fetchval(COUNT_USERS, org_id)
            await conn.fetch(SELECT_PAGE, org_id, offset)

    return operation


async def create_group(pool: asyncpg.Pool, org_id: str, display_name: str) -> uuid.UUID:
    group_id = uuid.uuid4()
    await pool.execute(INSERT_GROUP, org_id, group_id, display_name)
    return group_id


def add_member(
    pool: asyncpg.Pool, org_id: str, group_id: uuid.UUID, users: Sequence[SeedUser]
) -> Operation:
    async def operation(index: int) -> None:
        user_id = uuid.UUID(users[index].id)
        async with pool.acquire() as conn, conn.transaction():
            added = await conn.fetch(ADD_MEMBER, org_id, group_id, user_id)
            await conn.execute(COUNT_MEMBER, org_id, group_id, len(added))

    return operation


def describe() -> dict[str, str]:
    """The SQL behind each scenario's ceiling, for the JSON report."""
    statements = {
        "get_by_id": [SELECT_BY_ID],
        "filter_user_name": [SELECT_BY_USER_NAME],
        "create_user": ["BEGIN", INSERT_USER, INSERT_EMAIL, "COMMIT"],
        "put_user": [UPDATE_USER],
        "list_page": [COUNT_USERS, SELECT_PAGE],
        "group_add_member": ["BEGIN", ADD_MEMBER, COUNT_MEMBER, "COMMIT"],
    }
    return {name: "; ".join(" ".join(s.split()) for s in sql) for name, sql in statements.items()}
