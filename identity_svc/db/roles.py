"""Role rules and members' effective roles (SPEC §5), recomputed in SQL.

The effective role lives on the user row. `recompute` is the one statement
that derives it, for the given users only: the highest (in `Role` order) of
the direct role and the roles of rules matching the member's groups (by group
id, or by displayName ignoring case), else the org's default role; NULL for a
suspended member. Callers pass exactly the users a change can affect, so the
cost follows the change, never the org's size.

Concurrency: a member's role depends on rows other transactions write
(memberships, group names, rules, the default role). Two locks keep every
committed state consistent under READ COMMITTED:

- the users' rows are locked (in id order) by one statement, and the role is
  computed by the next, whose fresh snapshot then includes whatever an earlier
  holder of those rows committed;
- rule and default-role changes hold a per-org advisory lock exclusively,
  recomputes hold it shared: a rule change waits for in-flight recomputes and
  then sees their memberships, and a recompute after it sees the rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

import asyncpg

from identity_svc.db.ids import parse_id
from identity_svc.db.pool import one
from identity_svc.domain.errors import NotFound
from identity_svc.domain.models import Role, RoleChange, RoleRule

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

# Namespace (classid) of the per-org rules lock; the org id hashes into objid.
_RULES_LOCK_CLASS = 7302

_HOLD_RULES_SHARED = "SELECT pg_advisory_xact_lock_shared($1, hashtext($2))"
_HOLD_RULES_EXCLUSIVE = "SELECT pg_advisory_xact_lock($1, hashtext($2))"

# Roles from the highest precedence to the lowest, as `Role` declares them.
_PRECEDENCE = [role.value for role in Role]

_LOCK_USERS = """
SELECT u.id
FROM users u
WHERE u.org_id = $1 AND u.id = ANY($2::uuid[])
ORDER BY u.id
FOR NO KEY UPDATE
"""

_RECOMPUTE = """
WITH computed AS (
    SELECT u.id, u.effective_role AS before,
        CASE WHEN u.active THEN COALESCE(
            (SELECT c.role
             FROM (
                 SELECT u.direct_role AS role
                 UNION ALL
                 SELECT r.role
                 FROM group_members gm
                 JOIN role_rules r ON r.org_id = gm.org_id AND r.group_id = gm.group_id
                 WHERE gm.org_id = u.org_id AND gm.user_id = u.id
                 UNION ALL
                 SELECT r.role
                 FROM group_members gm
                 JOIN groups g ON g.org_id = gm.org_id AND g.id = gm.group_id
                 JOIN role_rules r ON r.org_id = g.org_id
                     AND lower(r.group_name) = lower(g.display_name)
                 WHERE gm.org_id = u.org_id AND gm.user_id = u.id
             ) AS c
             WHERE c.role IS NOT NULL
             ORDER BY array_position($3::text[], c.role)
             LIMIT 1),
            o.default_role)
        END AS after
    FROM users u
    JOIN orgs o ON o.org_id = u.org_id
    WHERE u.org_id = $1 AND u.id = ANY($2::uuid[])
)
UPDATE users AS u
SET effective_role = c.after
FROM computed c
WHERE u.org_id = $1 AND u.id = c.id AND u.effective_role IS DISTINCT FROM c.after
RETURNING u.id, c.before, c.after
"""

_GROUP_MEMBER_IDS = """
SELECT gm.user_id
FROM group_members gm
WHERE gm.org_id = $1 AND gm.group_id = $2
"""

_NAMED_GROUPS_MEMBER_IDS = """
SELECT DISTINCT gm.user_id
FROM groups g
JOIN group_members gm ON gm.org_id = g.org_id AND gm.group_id = g.id
WHERE g.org_id = $1 AND lower(g.display_name) = lower($2)
"""

# Exactly the members whose role is the default: active, no direct role, no
# mapped group (their effective role equals the current default). Members
# with a mapped group's role equal to it pass too; the recompute keeps them.
_DEFAULT_ROLE_HOLDERS = """
SELECT u.id
FROM users u
WHERE u.org_id = $1
  AND u.effective_role IS NOT DISTINCT FROM $2
  AND u.active
  AND u.direct_role IS NULL
"""

_GROUP_MAPPING = """
SELECT coalesce(bool_or(r.group_id = $2), false) AS by_id,
    coalesce(bool_or(lower(r.group_name) = ANY($3::text[])), false) AS by_name
FROM role_rules r
WHERE r.org_id = $1
  AND (r.group_id = $2 OR lower(r.group_name) = ANY($3::text[]))
"""

_RULE_COLUMNS = "org_id, id, group_id, group_name, role, created_by, created"

_INSERT_RULE = f"""
INSERT INTO role_rules (org_id, id, group_id, group_name, role, created_by)
VALUES ($1, $2, $3, $4, $5, $6)
RETURNING {_RULE_COLUMNS}
"""

_SELECT_RULES = f"""
SELECT {_RULE_COLUMNS}
FROM role_rules
WHERE org_id = $1
ORDER BY created, id
"""

_SELECT_RULE_FOR_TARGET = f"""
SELECT {_RULE_COLUMNS}
FROM role_rules
WHERE org_id = $1
  AND (group_id = $2 OR lower(group_name) = lower($3))
"""

_SET_RULE_ROLE = f"""
UPDATE role_rules
SET role = $3
WHERE org_id = $1 AND id = $2
RETURNING {_RULE_COLUMNS}
"""

_DELETE_RULE = f"""
DELETE FROM role_rules
WHERE org_id = $1 AND id = $2
RETURNING {_RULE_COLUMNS}
"""

_DELETE_GROUP_RULES = f"""
DELETE FROM role_rules
WHERE org_id = $1 AND group_id = $2
RETURNING {_RULE_COLUMNS}
"""


def _rule(row: asyncpg.Record) -> RoleRule:
    group_id = row["group_id"]
    return RoleRule(
        id=str(row["id"]),
        org_id=row["org_id"],
        group_id=str(group_id) if group_id else None,
        group_name=row["group_name"],
        role=Role(row["role"]),
        created_by=row["created_by"],
        created=row["created"],
    )


def _optional_role(value: str | None) -> Role | None:
    return Role(value) if value else None


async def hold_rules(conn: Connection, org_id: str, *, exclusive: bool = False) -> None:
    """Take the org's rules lock until the transaction ends (see the module docstring)."""
    query = _HOLD_RULES_EXCLUSIVE if exclusive else _HOLD_RULES_SHARED
    await conn.execute(query, _RULES_LOCK_CLASS, org_id)


async def recompute(
    conn: Connection, org_id: str, user_ids: Iterable[str | uuid.UUID]
) -> list[RoleChange]:
    """Bring these users' effective roles up to date; returns the ones that moved."""
    ids = sorted({u if isinstance(u, uuid.UUID) else uuid.UUID(u) for u in user_ids})
    if not ids:
        return []
    await hold_rules(conn, org_id)
    await conn.execute(_LOCK_USERS, org_id, ids)
    rows = await conn.fetch(_RECOMPUTE, org_id, ids, _PRECEDENCE)
    changes = [
        RoleChange(str(r["id"]), _optional_role(r["before"]), _optional_role(r["after"]))
        for r in rows
    ]
    return sorted(changes, key=lambda c: c.user_id)


async def group_member_ids(conn: Connection, org_id: str, group_id: str) -> list[uuid.UUID]:
    rows = await conn.fetch(_GROUP_MEMBER_IDS, org_id, uuid.UUID(group_id))
    return [r["user_id"] for r in rows]


async def named_groups_member_ids(conn: Connection, org_id: str, name: str) -> list[uuid.UUID]:
    """Members of every group whose displayName equals `name`, ignoring case."""
    return [r["user_id"] for r in await conn.fetch(_NAMED_GROUPS_MEMBER_IDS, org_id, name)]


async def default_role_holders(
    conn: Connection, org_id: str, default_role: Role | None
) -> list[uuid.UUID]:
    value = default_role.value if default_role else None
    return [r["id"] for r in await conn.fetch(_DEFAULT_ROLE_HOLDERS, org_id, value)]


async def group_mapping(
    conn: Connection, org_id: str, group_id: str, names: list[str]
) -> tuple[bool, bool]:
    """Whether a rule targets the group (by id, by any of `names` ignoring case).

    Holds the rules lock shared, so no rule for it appears before the caller commits.
    """
    await hold_rules(conn, org_id)
    lowered = [n.lower() for n in names]
    row = await conn.fetchrow(_GROUP_MAPPING, org_id, uuid.UUID(group_id), lowered)
    return bool(one(row)["by_id"]), bool(one(row)["by_name"])


class RoleRulesRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def all(self, org_id: str) -> list[RoleRule]:
        return [_rule(r) for r in await self._conn.fetch(_SELECT_RULES, org_id)]

    async def find_for_target(
        self, org_id: str, group_id: str | None, group_name: str | None
    ) -> RoleRule | None:
        gid = uuid.UUID(group_id) if group_id else None
        row = await self._conn.fetchrow(_SELECT_RULE_FOR_TARGET, org_id, gid, group_name)
        return _rule(row) if row else None

    async def insert(
        self,
        org_id: str,
        group_id: str | None,
        group_name: str | None,
        role: Role,
        created_by: str,
    ) -> RoleRule:
        gid = uuid.UUID(group_id) if group_id else None
        try:
            row = await self._conn.fetchrow(
                _INSERT_RULE, org_id, uuid.uuid4(), gid, group_name, role.value, created_by
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"group {group_id} not found in org {org_id}") from exc
        return _rule(one(row))

    async def set_role(self, org_id: str, rule_id: str, role: Role) -> RoleRule:
        row = await self._conn.fetchrow(_SET_RULE_ROLE, org_id, uuid.UUID(rule_id), role.value)
        return _rule(one(row))

    async def delete(self, org_id: str, rule_id: str) -> RoleRule:
        parsed = parse_id(rule_id)
        row = None
        if parsed is not None:
            row = await self._conn.fetchrow(_DELETE_RULE, org_id, parsed)
        if row is None:
            raise NotFound(f"role rule {rule_id} not found in org {org_id}")
        return _rule(row)

    async def delete_for_group(self, org_id: str, group_id: str) -> list[RoleRule]:
        """Drop the rules that target a group by id (before the group goes)."""
        rows = await self._conn.fetch(_DELETE_GROUP_RULES, org_id, uuid.UUID(group_id))
        return [_rule(r) for r in rows]
