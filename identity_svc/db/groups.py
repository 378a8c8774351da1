"""Groups and their memberships (one aggregate).

Memberships are rows. Adding or removing members runs a fixed number of
statements whose cost depends on the members changed, never on the group's
size; the member count is kept on the group row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import asyncpg

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filters import SqlParams, compile_member_filter
from identity_svc.db.ids import parse_id, parse_ids
from identity_svc.db.pool import one
from identity_svc.domain.errors import InvalidValue, NotFound
from identity_svc.domain.models import Group, Member

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

GROUP_COLUMNS = """g.id, g.org_id, g.display_name, g.external_id, g.member_count,
    g.version, g.created, g.last_modified"""

_INSERT_GROUP = f"""
INSERT INTO groups AS g (org_id, id, display_name, external_id)
VALUES ($1, $2, $3, $4)
RETURNING {GROUP_COLUMNS}
"""

_SELECT_GROUP = f"""
SELECT {GROUP_COLUMNS}
FROM groups g
WHERE g.org_id = $1 AND g.id = $2
"""

_LOCK_GROUP = _SELECT_GROUP + "FOR UPDATE"

# In id order, the one order of multi-group locks (see _GROUPS_OF_USER).
_LOCK_GROUPS = f"""
SELECT {GROUP_COLUMNS}
FROM groups g
WHERE g.org_id = $1 AND g.id = ANY($2::uuid[])
ORDER BY g.id
FOR UPDATE
"""

_UPDATE_GROUP = f"""
UPDATE groups AS g
SET display_name = $3, external_id = $4, member_count = g.member_count + $5,
    version = g.version + 1, last_modified = clock_timestamp()
WHERE g.org_id = $1 AND g.id = $2
RETURNING {GROUP_COLUMNS}
"""

# A new group's first members are part of its creation, not a new version.
_SET_INITIAL_COUNT = f"""
UPDATE groups AS g
SET member_count = $3
WHERE g.org_id = $1 AND g.id = $2
RETURNING {GROUP_COLUMNS}
"""

_DELETE_GROUP = """
DELETE FROM groups
WHERE org_id = $1 AND id = $2
"""

_EXISTING_USERS = """
SELECT id
FROM users
WHERE org_id = $1 AND id = ANY($2::uuid[])
"""

_ADD_MEMBERS = """
INSERT INTO group_members (org_id, group_id, user_id)
SELECT $1, $2, m.user_id
FROM unnest($3::uuid[]) AS m(user_id)
ON CONFLICT (org_id, group_id, user_id) DO NOTHING
RETURNING user_id
"""

_REMOVE_MEMBERS = """
DELETE FROM group_members
WHERE org_id = $1 AND group_id = $2 AND user_id = ANY($3::uuid[])
RETURNING user_id
"""

# {condition}: a member filter compiled by db/filters.py over alias gm; the
# group's scope stays outside it.
REMOVE_MEMBERS_WHERE = """
DELETE FROM group_members gm
WHERE gm.org_id = $1 AND gm.group_id = $2 AND ({condition})
RETURNING gm.user_id
"""

_REMOVE_MEMBERS_NOT_IN = """
DELETE FROM group_members
WHERE org_id = $1 AND group_id = $2 AND NOT (user_id = ANY($3::uuid[]))
RETURNING user_id
"""

_REMOVE_MEMBERS_OF_USER = """
DELETE FROM group_members
WHERE org_id = $1 AND user_id = $2
RETURNING group_id
"""

# The groups a user is in, locked in id order. Locks are taken groups first,
# users second, by every write that holds both (a group write locks its row,
# then its members' rows through the membership foreign key and role upkeep),
# so a user DELETE racing a group PATCH waits instead of deadlocking.
_GROUPS_OF_USER = """
SELECT g.id
FROM groups g
WHERE g.org_id = $1 AND g.id IN (
    SELECT gm.group_id
    FROM group_members gm
    WHERE gm.org_id = $1 AND gm.user_id = $2
)
ORDER BY g.id
"""

_LOCK_GROUPS_OF_USER = _GROUPS_OF_USER + "FOR UPDATE"

# A group's SCIM resource shows its members' displayNames: a member's rename
# is a new version of each of its groups.
_TOUCH_GROUPS_OF_USER = f"""
WITH locked AS ({_LOCK_GROUPS_OF_USER})
UPDATE groups AS g
SET version = g.version + 1, last_modified = clock_timestamp()
FROM locked
WHERE g.org_id = $1 AND g.id = locked.id
"""

_DECREMENT_GROUPS = f"""
UPDATE groups AS g
SET member_count = g.member_count - 1, version = g.version + 1,
    last_modified = clock_timestamp()
WHERE g.org_id = $1 AND g.id = ANY($2::uuid[])
RETURNING {GROUP_COLUMNS}
"""

_SELECT_MEMBERS = """
SELECT gm.group_id, gm.user_id, u.display_name AS display
FROM group_members gm
JOIN users u ON u.org_id = gm.org_id AND u.id = gm.user_id
WHERE gm.org_id = $1 AND gm.group_id = ANY($2::uuid[])
ORDER BY gm.group_id, gm.user_id
"""

_SELECT_MEMBER_PAGE = """
SELECT gm.user_id, u.display_name AS display
FROM group_members gm
JOIN users u ON u.org_id = gm.org_id AND u.id = gm.user_id
WHERE gm.org_id = $1 AND gm.group_id = $2 AND gm.user_id > $3
ORDER BY gm.user_id
LIMIT $4
"""


def group_from_row(row: asyncpg.Record, members: tuple[Member, ...] | None = None) -> Group:
    return Group(
        id=str(row["id"]),
        org_id=row["org_id"],
        display_name=row["display_name"],
        external_id=row["external_id"],
        member_count=row["member_count"],
        version=row["version"],
        created=row["created"],
        last_modified=row["last_modified"],
        members=members,
    )


class GroupsRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def insert(self, org_id: str, display_name: str, external_id: str | None) -> Group:
        try:
            row = await self._conn.fetchrow(
                _INSERT_GROUP, org_id, uuid.uuid4(), display_name, external_id
            )
        except asyncpg.ForeignKeyViolationError as exc:
            raise NotFound(f"org {org_id} not found") from exc
        return group_from_row(one(row))

    async def get(self, org_id: str, group_id: str, *, lock: bool = False) -> Group:
        parsed = parse_id(group_id)
        row = None
        if parsed is not None:
            query = _LOCK_GROUP if lock else _SELECT_GROUP
            row = await self._conn.fetchrow(query, org_id, parsed)
        if row is None:
            raise NotFound(f"group {group_id} not found")
        return group_from_row(row)

    async def lock_many(self, org_id: str, group_ids: Sequence[str]) -> list[Group]:
        """Those of these groups that exist, locked in id order."""
        rows = await self._conn.fetch(_LOCK_GROUPS, org_id, [uuid.UUID(g) for g in group_ids])
        return [group_from_row(r) for r in rows]

    async def update(
        self,
        org_id: str,
        group_id: str,
        display_name: str,
        external_id: str | None,
        member_delta: int,
    ) -> Group:
        """Record a real change of a (locked) group: attributes, count, version."""
        row = await self._conn.fetchrow(
            _UPDATE_GROUP, org_id, uuid.UUID(group_id), display_name, external_id, member_delta
        )
        return group_from_row(one(row))

    async def set_initial_count(self, org_id: str, group_id: str, count: int) -> Group:
        row = await self._conn.fetchrow(_SET_INITIAL_COUNT, org_id, uuid.UUID(group_id), count)
        return group_from_row(one(row))

    async def delete(self, org_id: str, group_id: str) -> None:
        await self._conn.execute(_DELETE_GROUP, org_id, uuid.UUID(group_id))

    async def require_users(self, org_id: str, user_ids: list[str]) -> list[uuid.UUID]:
        """The ids as UUIDs; InvalidValue naming any that is no user of the org."""
        valid, malformed = parse_ids(user_ids)
        found = {r["id"] for r in await self._conn.fetch(_EXISTING_USERS, org_id, valid)}
        unknown = malformed + [str(u) for u in valid if u not in found]
        if unknown:
            raise InvalidValue(f"no such user in this org: {', '.join(sorted(set(unknown)))}")
        return list(dict.fromkeys(valid))

    async def add_members(self, org_id: str, group_id: str, user_ids: list[uuid.UUID]) -> list[str]:
        """Insert memberships; returns the users that were not members yet."""
        try:
            rows = await self._conn.fetch(_ADD_MEMBERS, org_id, uuid.UUID(group_id), user_ids)
        except asyncpg.ForeignKeyViolationError as exc:  # a user deleted meanwhile
            raise InvalidValue("a member was deleted while being added") from exc
        return [str(r["user_id"]) for r in rows]

    async def remove_members(self, org_id: str, group_id: str, user_ids: list[str]) -> list[str]:
        """Delete memberships; unknown or malformed ids are no-ops."""
        valid, _ = parse_ids(user_ids)
        rows = await self._conn.fetch(_REMOVE_MEMBERS, org_id, uuid.UUID(group_id), valid)
        return [str(r["user_id"]) for r in rows]

    async def remove_members_where(self, org_id: str, group_id: str, expr: pb.Filter) -> list[str]:
        """Delete the memberships a member filter (`members[...]`) selects."""
        params = SqlParams(org_id, uuid.UUID(group_id))
        query = REMOVE_MEMBERS_WHERE.format(condition=compile_member_filter(expr, params))
        rows = await self._conn.fetch(query, *params.args)
        return [str(r["user_id"]) for r in rows]

    async def keep_only_members(
        self, org_id: str, group_id: str, user_ids: list[uuid.UUID]
    ) -> list[str]:
        """Delete every membership except `user_ids`; returns the users removed."""
        rows = await self._conn.fetch(_REMOVE_MEMBERS_NOT_IN, org_id, uuid.UUID(group_id), user_ids)
        return [str(r["user_id"]) for r in rows]

    async def lock_groups_of(self, org_id: str, user_id: str) -> None:
        """Lock a user's groups before the user itself (the one lock order)."""
        parsed = parse_id(user_id)
        if parsed is not None:
            await self._conn.execute(_LOCK_GROUPS_OF_USER, org_id, parsed)

    async def touch_groups_of(self, org_id: str, user_id: str) -> None:
        """A new version of each group of a member whose displayName changed."""
        await self._conn.execute(_TOUCH_GROUPS_OF_USER, org_id, uuid.UUID(user_id))

    async def remove_user_everywhere(self, org_id: str, user_id: str) -> list[Group]:
        """Drop a user from all its groups; returns those groups, updated."""
        rows = await self._conn.fetch(_REMOVE_MEMBERS_OF_USER, org_id, uuid.UUID(user_id))
        if not rows:
            return []
        group_ids = sorted(r["group_id"] for r in rows)
        return [
            group_from_row(r) for r in await self._conn.fetch(_DECREMENT_GROUPS, org_id, group_ids)
        ]

    async def members_of(self, org_id: str, group_ids: list[str]) -> dict[str, tuple[Member, ...]]:
        found: dict[str, list[Member]] = {gid: [] for gid in group_ids}
        rows = await self._conn.fetch(_SELECT_MEMBERS, org_id, [uuid.UUID(g) for g in group_ids])
        for row in rows:
            found[str(row["group_id"])].append(Member(str(row["user_id"]), row["display"] or ""))
        return {gid: tuple(members) for gid, members in found.items()}

    async def member_page(
        self, org_id: str, group_id: str, after_user_id: str, count: int
    ) -> list[Member]:
        after = parse_id(after_user_id) if after_user_id else uuid.UUID(int=0)
        if after is None:
            raise InvalidValue("after_user_id is not a member id")
        rows = await self._conn.fetch(
            _SELECT_MEMBER_PAGE, org_id, uuid.UUID(group_id), after, count
        )
        return [Member(str(r["user_id"]), r["display"] or "") for r in rows]
