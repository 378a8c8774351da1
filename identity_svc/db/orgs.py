"""Orgs: the tenants every other row belongs to."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg

from identity_svc.db.pool import one
from identity_svc.domain.errors import AlreadyExists, InvalidValue, NotFound
from identity_svc.domain.models import Org, Role

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

_ORG_COLUMNS = "org_id, name, sso_configured, created, default_role"

_INSERT_ORG = f"""
INSERT INTO orgs (org_id, name, sso_configured)
VALUES ($1, $2, $3)
RETURNING {_ORG_COLUMNS}
"""

_SELECT_ORG = f"""
SELECT {_ORG_COLUMNS}
FROM orgs
WHERE org_id = $1
"""

_SET_SSO = f"""
UPDATE orgs
SET sso_configured = $2
WHERE org_id = $1
RETURNING {_ORG_COLUMNS}
"""

_SET_DEFAULT_ROLE = f"""
UPDATE orgs
SET default_role = $2
WHERE org_id = $1
RETURNING {_ORG_COLUMNS}
"""


def _org(row: asyncpg.Record) -> Org:
    role = row["default_role"]
    return Org(
        row["org_id"],
        row["name"],
        row["sso_configured"],
        row["created"],
        Role(role) if role else None,
    )


class OrgsRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def insert(self, org_id: str, name: str, sso_configured: bool) -> Org:
        try:
            row = await self._conn.fetchrow(_INSERT_ORG, org_id, name, sso_configured)
        except asyncpg.UniqueViolationError as exc:
            raise AlreadyExists("org", f"org {org_id} already exists") from exc
        except asyncpg.CheckViolationError as exc:
            raise InvalidValue(
                "org id must be 1-63 lowercase letters, digits or hyphens, "
                "starting with a letter or digit"
            ) from exc
        return _org(one(row))

    async def get(self, org_id: str) -> Org:
        row = await self._conn.fetchrow(_SELECT_ORG, org_id)
        if row is None:
            raise NotFound(f"org {org_id} not found")
        return _org(row)

    async def set_sso(self, org_id: str, configured: bool) -> Org:
        row = await self._conn.fetchrow(_SET_SSO, org_id, configured)
        if row is None:
            raise NotFound(f"org {org_id} not found")
        return _org(row)

    async def set_default_role(self, org_id: str, role: Role | None) -> Org:
        row = await self._conn.fetchrow(_SET_DEFAULT_ROLE, org_id, role.value if role else None)
        if row is None:
            raise NotFound(f"org {org_id} not found")
        return _org(row)
