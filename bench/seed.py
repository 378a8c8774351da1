"""Users for the scenarios to read, update and add to a group.

They are bulk-inserted straight into the database, as the identity service
would store what Okta creates: the same normalized document and derived
columns (identity_svc.domain.user_document), and one user_values row per email.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from identity_svc.domain.user_document import derive_user_fields, normalize_user_document

CORE_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"

_BATCH = 2000

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


def _columns(first: int, stop: int) -> tuple[list[Any], ...]:
    ids: list[uuid.UUID] = []
    columns: tuple[list[str | None], ...] = tuple([] for _ in range(7))
    for index in range(first, stop):
        body = okta_user(seed_user_name(index), "Seed", f"User{index}", f"seed-{index}")
        document = normalize_user_document(body)
        fields = derive_user_fields(document)
        ids.append(uuid.uuid4())
        row = (
            fields.user_name,
            fields.external_id,
            fields.display_name,
            fields.given_name,
            fields.family_name,
            fields.primary_email,
            json.dumps(document),
        )
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return (ids, *columns)


async def seed_users(database_url: str, org_id: str, count: int) -> list[SeedUser]:
    """Insert `count` users in batches; returns them in creation order."""
    conn = await asyncpg.connect(database_url)
    users: list[SeedUser] = []
    try:
        for first in range(0, count, _BATCH):
            ids, *columns = _columns(first, min(first + _BATCH, count))
            async with conn.transaction():
                await conn.execute(_INSERT_USERS, org_id, ids, *columns)
                await conn.execute(_INSERT_EMAILS, org_id, ids, columns[5])
            users += [
                SeedUser(str(i), name, external_id)
                for i, name, external_id in zip(ids, columns[0], columns[1], strict=True)
            ]
        await conn.execute("ANALYZE users, user_values")
    finally:
        await conn.close()
    return users
