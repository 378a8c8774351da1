"""SCIM keys: only SHA-256 of the secret is stored."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import asyncpg

from identity_svc.db.pool import one
from identity_svc.domain.errors import NotFound
from identity_svc.domain.models import ScimKey

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

_KEY_COLUMNS = "org_id, id, name, created_by, created, last_used, revoked, expires"

_INSERT_KEY = f"""
INSERT INTO scim_keys (org_id, id, name, secret_sha256, created_by, expires)
VALUES ($1, $2, $3, $4, $5, clock_timestamp() + $6::interval)
RETURNING {_KEY_COLUMNS}
"""

_SELECT_KEYS = f"""
SELECT {_KEY_COLUMNS}
FROM scim_keys
WHERE org_id = $1
ORDER BY created, id
"""

_SELECT_KEY_FOR_VERIFY = f"""
SELECT {_KEY_COLUMNS}, secret_sha256
FROM scim_keys
WHERE org_id = $1 AND id = $2
"""

# Only a live key is revoked: a second revocation (even a concurrent one,
# which waits on the row lock and then finds it revoked) changes nothing.
_REVOKE_KEY = f"""
UPDATE scim_keys
SET revoked = clock_timestamp()
WHERE org_id = $1 AND id = $2 AND revoked IS NULL
RETURNING {_KEY_COLUMNS}
"""


# Written at most once a minute per key, outside any request transaction.
_TOUCH_KEY = """
UPDATE scim_keys
SET last_used = clock_timestamp()
WHERE org_id = $1 AND id = $2
  AND (last_used IS NULL OR last_used < clock_timestamp() - interval '1 minute')
"""


def _key(row: asyncpg.Record) -> ScimKey:
    return ScimKey(
        id=row["id"],
        org_id=row["org_id"],
        name=row["name"],
        created_by=row["created_by"],
        created=row["created"],
        last_used=row["last_used"],
        revoked=row["revoked"],
        expires=row["expires"],
    )


class KeysRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def insert(
        self,
        org_id: str,
        key_id: str,
        name: str,
        secret_sha256: bytes,
        created_by: str,
        expires_in: timedelta | None,
    ) -> ScimKey:
        """A new key; `expires_in` from now by the database's clock (None: never)."""
        row = await self._conn.fetchrow(
            _INSERT_KEY, org_id, key_id, name, secret_sha256, created_by, expires_in
        )
        return _key(one(row))

    async def list(self, org_id: str) -> list[ScimKey]:
        return [_key(r) for r in await self._conn.fetch(_SELECT_KEYS, org_id)]

    async def get_with_hash(self, org_id: str, key_id: str) -> tuple[ScimKey, bytes] | None:
        row = await self._conn.fetchrow(_SELECT_KEY_FOR_VERIFY, org_id, key_id)
        if row is None:
            return None
        return _key(row), bytes(row["secret_sha256"])

    async def touch(self, org_id: str, key_id: str) -> None:
        await self._conn.execute(_TOUCH_KEY, org_id, key_id)

    async def revoke(self, org_id: str, key_id: str) -> tuple[ScimKey, bool]:
        """The key, revoked; and whether this call revoked it (False: it already was)."""
        row = await self._conn.fetchrow(_REVOKE_KEY, org_id, key_id)
        if row is not None:
            return _key(row), True
        found = await self.get_with_hash(org_id, key_id)
        if found is None:
            raise NotFound(f"key {key_id} not found in org {org_id}")
        return found[0], False
