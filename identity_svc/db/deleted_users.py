"""Deleted members kept for the restore window (migration 0006; issue 10).

`archive` copies a user row, with the ids of its groups, in the transaction
that deletes it; a restore reads the copy back and an expired one is purged.
Nothing else reads this table, so SCIM never sees an archived member.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from identity_svc.domain.errors import NotFound
from identity_svc.domain.models import DeletedUser, Role

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

_COLUMNS = """d.org_id, d.id, d.user_name, d.document, d.direct_role, d.version, d.created,
    d.group_ids, d.deleted_at, d.deleted_by"""

# Straight from the row about to be deleted, before its memberships go.
_ARCHIVE = """
INSERT INTO deleted_users (org_id, id, user_name, document, direct_role, version, created,
    group_ids, deleted_by)
SELECT u.org_id, u.id, u.user_name, u.document, u.direct_role, u.version, u.created,
    ARRAY(
        SELECT gm.group_id
        FROM group_members gm
        WHERE gm.org_id = u.org_id AND gm.user_id = u.id
        ORDER BY gm.group_id
    ),
    $3
FROM users u
WHERE u.org_id = $1 AND u.id = $2
"""

# The most recent restorable copy of a userName, locked against a concurrent
# restore or purge (a purge skips it; once a purge has it, this finds none).
_LOCK_LATEST_BY_NAME = f"""
SELECT {_COLUMNS}
FROM deleted_users d
WHERE d.org_id = $1 AND lower(d.user_name) = lower($2) AND d.deleted_at > now() - $3::interval
ORDER BY d.deleted_at DESC, d.id
LIMIT 1
FOR UPDATE
"""

# Newest first, after the keyset position ($3, $4).
_LIST_RESTORABLE = f"""
SELECT {_COLUMNS}
FROM deleted_users d
WHERE d.org_id = $1 AND d.deleted_at > now() - $2::interval
  AND (d.deleted_at, d.id) < ($3, $4)
ORDER BY d.deleted_at DESC, d.id DESC
LIMIT $5
"""

_DELETE = """
DELETE FROM deleted_users
WHERE org_id = $1 AND id = $2
"""

# Several replicas purge at once: each takes only rows no other one holds
# (SKIP LOCKED), so no copy is deleted, or its event written, twice; a copy
# being restored is locked too, and skipped.
_PURGE_EXPIRED = """
WITH expired AS MATERIALIZED (
    SELECT e.org_id, e.id
    FROM deleted_users e
    WHERE e.deleted_at <= now() - $1::interval
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
DELETE FROM deleted_users d
USING expired
WHERE d.org_id = expired.org_id AND d.id = expired.id
RETURNING d.org_id, d.id, d.user_name
"""

# The first page's position: before every row.
_START = (datetime.max.replace(tzinfo=UTC), uuid.UUID(int=(1 << 128) - 1))


def _from_row(row: asyncpg.Record) -> DeletedUser:
    return DeletedUser(
        id=str(row["id"]),
        org_id=row["org_id"],
        user_name=row["user_name"],
        document=row["document"],
        direct_role=Role(row["direct_role"]) if row["direct_role"] else None,
        version=row["version"],
        created=row["created"],
        group_ids=tuple(str(g) for g in row["group_ids"]),
        deleted_at=row["deleted_at"],
        deleted_by=row["deleted_by"],
    )


class DeletedUsersRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def archive(self, org_id: str, user_id: str, deleted_by: str) -> None:
        """Keep a copy of a (locked) user and its groups, before it is deleted."""
        await self._conn.execute(_ARCHIVE, org_id, uuid.UUID(user_id), deleted_by)

    async def lock_latest(self, org_id: str, user_name: str, window: timedelta) -> DeletedUser:
        """The most recent restorable copy of `user_name`; NotFound when there is none."""
        row = await self._conn.fetchrow(_LOCK_LATEST_BY_NAME, org_id, user_name, window)
        if row is None:
            raise NotFound(f"no deleted member {user_name!r} is restorable in org {org_id}")
        return _from_row(row)

    async def restorable(
        self,
        org_id: str,
        window: timedelta,
        limit: int,
        after: tuple[datetime, uuid.UUID] | None = None,
    ) -> list[DeletedUser]:
        """Up to `limit` restorable copies, newest first, after a page's last one."""
        deleted_at, user_id = after or _START
        rows = await self._conn.fetch(_LIST_RESTORABLE, org_id, window, deleted_at, user_id, limit)
        return [_from_row(r) for r in rows]

    async def delete(self, org_id: str, user_id: str) -> None:
        await self._conn.execute(_DELETE, org_id, uuid.UUID(user_id))

    async def purge_expired(self, window: timedelta, limit: int) -> list[tuple[str, str, str]]:
        """Delete up to `limit` copies older than `window`: their (org, id, userName)."""
        rows = await self._conn.fetch(_PURGE_EXPIRED, window, limit)
        return [(r["org_id"], str(r["id"]), r["user_name"]) for r in rows]
