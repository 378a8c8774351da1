"""Users and their indexed multi-valued attribute rows (one aggregate).

Longer than most modules because it is every statement of that aggregate:
each written once, beside the repository method that runs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import asyncpg

from identity_svc.db.filters import SqlParams
from identity_svc.db.ids import parse_id, parse_ids
from identity_svc.db.listing import Scope
from identity_svc.db.pool import one
from identity_svc.domain.errors import AlreadyExists, NotFound
from identity_svc.domain.models import DeletedUser, GroupRef, Role, User, UserFields

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

USER_COLUMNS = """u.id, u.org_id, u.user_name, u.external_id, u.active, u.display_name,
    u.primary_email, u.document, u.direct_role, u.effective_role, u.version, u.created,
    u.last_modified"""

# A new member is in no group yet, so its effective role is its direct role,
# else the org's default; none while suspended (db/roles.py derives the same).
# The caller holds the org's rules lock (shared), so the default read here is
# the one in force until it commits.
# The user and its indexed values in one statement (one round trip per create);
# no org, no user and no values. A restore passes the member's own creation
# time and next version ($18, $19); a create, NULL and 1.
_INSERT_USER = f"""
WITH u AS (
    INSERT INTO users AS u (org_id, id, user_name, external_id, active, display_name,
        given_name, family_name, primary_email, document, direct_role, effective_role,
        created, version)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
        CASE WHEN $5 THEN COALESCE($11, o.default_role) END,
        COALESCE($18::timestamptz, clock_timestamp()), $19
    FROM orgs o
    WHERE o.org_id = $1
    RETURNING {USER_COLUMNS}
), inserted_values AS (
    INSERT INTO user_values (org_id, user_id, attribute, position, value, type, display,
        is_primary)
    SELECT u.org_id, u.id, v.attribute, v.position, v.value, v.type, v.display, v.is_primary
    FROM u, unnest($12::text[], $13::int[], $14::text[], $15::text[], $16::text[], $17::bool[])
        AS v(attribute, position, value, type, display, is_primary)
)
SELECT * FROM u
"""

_SELECT_USER = f"""
SELECT {USER_COLUMNS}
FROM users u
WHERE u.org_id = $1 AND u.id = $2
"""

_LOCK_USER = _SELECT_USER + "FOR UPDATE"

# A user and its groups in one statement: one round trip, one snapshot, so a
# GET needs no transaction around it.
_SELECT_USER_WITH_GROUPS = f"""
SELECT {USER_COLUMNS},
    ARRAY(
        SELECT ROW(g.id, g.display_name)
        FROM group_members gm
        JOIN groups g ON g.org_id = gm.org_id AND g.id = gm.group_id
        WHERE gm.org_id = u.org_id AND gm.user_id = u.id
        ORDER BY g.display_name, g.id
    ) AS groups
FROM users u
WHERE u.org_id = $1 AND u.id = $2
"""

_SELECT_USER_BY_NAME = f"""
SELECT {USER_COLUMNS}
FROM users u
WHERE u.org_id = $1 AND lower(u.user_name) = lower($2)
"""

# A member by primary email; should two share one, the oldest answers.
_SELECT_USER_BY_EMAIL = f"""
SELECT {USER_COLUMNS}
FROM users u
WHERE u.org_id = $1 AND lower(u.primary_email) = lower($2)
ORDER BY u.created, u.id
LIMIT 1
"""

_SELECT_USERS_BY_IDS = f"""
SELECT {USER_COLUMNS}
FROM users u
WHERE u.org_id = $1 AND u.id = ANY($2::uuid[])
"""

# A listing condition over `u`: members of one group, {group} its placeholder.
_IN_GROUP_CONDITION = """EXISTS (
    SELECT 1
    FROM group_members gm
    WHERE gm.org_id = u.org_id AND gm.group_id = {group} AND gm.user_id = u.id
)"""

_IS_ORG_ADMIN = """
SELECT EXISTS (
    SELECT 1
    FROM users u
    WHERE u.org_id = $1
      AND (lower(u.user_name) = lower($2) OR lower(u.primary_email) = lower($2))
      AND u.effective_role = 'ORG_ADMIN'
)
"""

_SET_DIRECT_ROLE = f"""
UPDATE users AS u
SET direct_role = $3, version = u.version + 1, last_modified = clock_timestamp()
WHERE u.org_id = $1 AND u.id = $2
RETURNING {USER_COLUMNS}
"""

# A (locked) user's columns and document overwritten and its value rows made
# exactly `wanted`, in one statement: the rows kept are upserted and the others
# deleted. The parts touch disjoint rows, so their order does not matter.
_UPDATE_USER = f"""
WITH u AS (
    UPDATE users AS u
    SET user_name = $3, external_id = $4, active = $5, display_name = $6, given_name = $7,
        family_name = $8, primary_email = $9, document = $10,
        version = u.version + 1, last_modified = clock_timestamp()
    WHERE u.org_id = $1 AND u.id = $2
    RETURNING {USER_COLUMNS}
), wanted AS (
    SELECT *
    FROM unnest($11::text[], $12::int[], $13::text[], $14::text[], $15::text[], $16::bool[])
        AS v(attribute, position, value, type, display, is_primary)
), upserted AS (
    INSERT INTO user_values AS uv (org_id, user_id, attribute, position, value, type, display,
        is_primary)
    SELECT $1, $2, w.attribute, w.position, w.value, w.type, w.display, w.is_primary
    FROM wanted w
    ON CONFLICT (org_id, user_id, attribute, position) DO UPDATE
    SET value = EXCLUDED.value, type = EXCLUDED.type, display = EXCLUDED.display,
        is_primary = EXCLUDED.is_primary
    WHERE (uv.value, uv.type, uv.display, uv.is_primary)
        IS DISTINCT FROM (EXCLUDED.value, EXCLUDED.type, EXCLUDED.display, EXCLUDED.is_primary)
), deleted AS (
    DELETE FROM user_values uv
    WHERE uv.org_id = $1 AND uv.user_id = $2
      AND (uv.attribute, uv.position) NOT IN (SELECT w.attribute, w.position FROM wanted w)
)
SELECT * FROM u
"""

# A user's SCIM resource shows its groups (ids and displayNames), so a change
# to them is a new version of the user: its ETag moves with what it describes
# (RFC 7232 §2.3). The rows are locked in id order, as every multi-user lock is.
_TOUCH = """
WITH locked AS (
    SELECT u.id
    FROM users u
    WHERE u.org_id = $1 AND u.id = ANY($2::uuid[])
    ORDER BY u.id
    FOR NO KEY UPDATE
)
UPDATE users AS u
SET version = u.version + 1, last_modified = clock_timestamp()
FROM locked
WHERE u.org_id = $1 AND u.id = locked.id
"""

_TOUCH_MEMBERS_OF_GROUP = """
WITH locked AS (
    SELECT u.id
    FROM users u
    WHERE u.org_id = $1 AND u.id IN (
        SELECT gm.user_id
        FROM group_members gm
        WHERE gm.org_id = $1 AND gm.group_id = $2
    )
    ORDER BY u.id
    FOR NO KEY UPDATE
)
UPDATE users AS u
SET version = u.version + 1, last_modified = clock_timestamp()
FROM locked
WHERE u.org_id = $1 AND u.id = locked.id
"""

_DELETE_USER = """
DELETE FROM users
WHERE org_id = $1 AND id = $2
"""

_SELECT_GROUPS_OF_USERS = """
SELECT gm.user_id, g.id, g.display_name
FROM group_members gm
JOIN groups g ON g.org_id = gm.org_id AND g.id = gm.group_id
WHERE gm.org_id = $1 AND gm.user_id = ANY($2::uuid[])
ORDER BY g.display_name, g.id
"""


def _role(value: str | None) -> Role | None:
    return Role(value) if value else None


def user_from_row(row: asyncpg.Record, groups: tuple[GroupRef, ...] | None = None) -> User:
    return User(
        id=str(row["id"]),
        org_id=row["org_id"],
        user_name=row["user_name"],
        external_id=row["external_id"],
        active=row["active"],
        display_name=row["display_name"],
        primary_email=row["primary_email"],
        document=row["document"],
        direct_role=_role(row["direct_role"]),
        effective_role=_role(row["effective_role"]),
        version=row["version"],
        created=row["created"],
        last_modified=row["last_modified"],
        groups=groups,
    )


def _field_args(fields: UserFields) -> tuple[Any, ...]:
    return (
        fields.user_name,
        fields.external_id,
        fields.active,
        fields.display_name,
        fields.given_name,
        fields.family_name,
        fields.primary_email,
    )


def _value_columns(fields: UserFields) -> tuple[list[Any], ...]:
    """The indexed values as the column arrays that _INSERT_USER / _UPDATE_USER unnest."""
    values = fields.values
    return (
        [v.attribute for v in values],
        [v.position for v in values],
        [v.value for v in values],
        [v.type for v in values],
        [v.display for v in values],
        [v.primary for v in values],
    )


def _raise_conflict(exc: asyncpg.UniqueViolationError, user_name: str) -> NoReturn:
    if exc.constraint_name == "users_user_name_key":
        raise AlreadyExists("userName", f"userName {user_name!r} is already taken") from exc
    raise exc


def in_group(group_id: str) -> Scope:
    """Restrict a user listing to one group's members, without loading the group."""
    parsed = parse_id(group_id)

    def condition(params: SqlParams) -> str:
        # A malformed id names no group: an empty listing, as for an unknown one.
        if parsed is None:
            return "false"
        return _IN_GROUP_CONDITION.format(group=params.add(parsed))

    return Scope(f"group:{group_id}", condition)


class UsersRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def insert(
        self,
        org_id: str,
        fields: UserFields,
        document: dict[str, Any],
        direct_role: Role | None = None,
        restoring: DeletedUser | None = None,
    ) -> User:
        """A new member, or with `restoring` a deleted one again: its id, created, version on."""
        user_id = uuid.UUID(restoring.id) if restoring else uuid.uuid4()
        role = direct_role.value if direct_role else None
        try:
            row = await self._conn.fetchrow(
                _INSERT_USER,
                org_id,
                user_id,
                *_field_args(fields),
                document,
                role,
                *_value_columns(fields),
                restoring.created if restoring else None,
                restoring.version + 1 if restoring else 1,
            )
        except asyncpg.UniqueViolationError as exc:
            _raise_conflict(exc, fields.user_name)
        if row is None:
            raise NotFound(f"org {org_id} not found")
        return user_from_row(row)

    async def _one(self, statement: str, org_id: str, user_id: str) -> asyncpg.Record:
        """The row `statement` finds for one user id; NotFound for none or a malformed id."""
        parsed = parse_id(user_id)
        row = None if parsed is None else await self._conn.fetchrow(statement, org_id, parsed)
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return row

    async def get(self, org_id: str, user_id: str, *, lock: bool = False) -> User:
        return user_from_row(await self._one(_LOCK_USER if lock else _SELECT_USER, org_id, user_id))

    async def get_with_groups(self, org_id: str, user_id: str) -> User:
        """The user with its groups (GroupRefs in displayName order)."""
        row = await self._one(_SELECT_USER_WITH_GROUPS, org_id, user_id)
        groups = tuple(GroupRef(str(group_id), name) for group_id, name in row["groups"])
        return user_from_row(row, groups)

    async def find_by_user_name(self, org_id: str, user_name: str) -> User | None:
        row = await self._conn.fetchrow(_SELECT_USER_BY_NAME, org_id, user_name)
        return user_from_row(row) if row else None

    async def find_by_email(self, org_id: str, email: str) -> User | None:
        """The member whose primary email is `email`, ignoring case."""
        row = await self._conn.fetchrow(_SELECT_USER_BY_EMAIL, org_id, email)
        return user_from_row(row) if row else None

    async def get_many(self, org_id: str, user_ids: list[str]) -> dict[str, User]:
        """The org's users among `user_ids` by id; malformed or unknown ids are absent."""
        valid, _ = parse_ids(user_ids)
        rows = await self._conn.fetch(_SELECT_USERS_BY_IDS, org_id, valid)
        return {str(r["id"]): user_from_row(r) for r in rows}

    async def is_org_admin(self, org_id: str, email: str) -> bool:
        """Whether a member logging in as `email` is an Org Admin (effective role).

        The effective role is NULL for a suspended member, so only active ones pass,
        and an Org Admin through a mapped IdP group counts like a direct one.
        """
        return bool(await self._conn.fetchval(_IS_ORG_ADMIN, org_id, email))

    async def update(
        self, org_id: str, user_id: str, fields: UserFields, document: dict[str, Any]
    ) -> User:
        """Overwrite a (locked) user's document and columns, bumping its version."""
        uid = uuid.UUID(user_id)
        try:
            row = await self._conn.fetchrow(
                _UPDATE_USER, org_id, uid, *_field_args(fields), document, *_value_columns(fields)
            )
        except asyncpg.UniqueViolationError as exc:
            _raise_conflict(exc, fields.user_name)
        return user_from_row(one(row))

    async def set_direct_role(self, org_id: str, user_id: str, role: Role | None) -> User:
        row = await self._conn.fetchrow(
            _SET_DIRECT_ROLE, org_id, uuid.UUID(user_id), role.value if role else None
        )
        return user_from_row(one(row))

    async def delete(self, org_id: str, user_id: str) -> None:
        await self._conn.execute(_DELETE_USER, org_id, uuid.UUID(user_id))

    async def touch(self, org_id: str, user_ids: Sequence[str | uuid.UUID]) -> None:
        """A new version of each user whose groups changed (a caller holding the group)."""
        if user_ids:
            await self._conn.execute(_TOUCH, org_id, [uuid.UUID(str(u)) for u in user_ids])

    async def touch_members_of(self, org_id: str, group_id: str) -> None:
        """A new version of every member of a (locked) group being renamed or deleted."""
        await self._conn.execute(_TOUCH_MEMBERS_OF_GROUP, org_id, uuid.UUID(group_id))

    async def groups_of(
        self, org_id: str, user_ids: Sequence[str | uuid.UUID]
    ) -> dict[str, tuple[GroupRef, ...]]:
        """Each user's groups (by the user's id as text), in one query for a page of users."""
        found: dict[str, list[GroupRef]] = {str(uid): [] for uid in user_ids}
        rows = await self._conn.fetch(_SELECT_GROUPS_OF_USERS, org_id, user_ids)
        for row in rows:
            found[str(row["user_id"])].append(GroupRef(str(row["id"]), row["display_name"]))
        return {uid: tuple(refs) for uid, refs in found.items()}
