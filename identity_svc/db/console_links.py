"""Console sign-in links: only SHA-256 of the token is stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from identity_svc.db.pool import one

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

_INSERT_LINK = """
INSERT INTO console_links (org_id, token_sha256, admin_email, created_by, expires)
VALUES ($1, $2, $3, $4, clock_timestamp() + $5::interval)
RETURNING expires
"""

# Links expire within minutes; a day later nobody needs their rows.
_PURGE_OLD = """
DELETE FROM console_links
WHERE org_id = $1 AND expires < clock_timestamp() - interval '1 day'
"""

# Single use even under concurrent redemptions: the second UPDATE waits on
# the row lock, then finds `used` set and returns nothing.
_REDEEM_LINK = """
UPDATE console_links
SET used = clock_timestamp()
WHERE org_id = $1 AND token_sha256 = $2 AND used IS NULL AND expires > clock_timestamp()
RETURNING org_id, admin_email
"""


@dataclass(frozen=True)
class RedeemedLink:
    org_id: str
    admin_email: str


class ConsoleLinksRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def insert(
        self,
        org_id: str,
        token_sha256: bytes,
        admin_email: str,
        created_by: str,
        lifetime: timedelta,
    ) -> datetime:
        """Store a link; return when it expires."""
        await self._conn.execute(_PURGE_OLD, org_id)
        row = await self._conn.fetchrow(
            _INSERT_LINK, org_id, token_sha256, admin_email, created_by, lifetime
        )
        expires: datetime = one(row)["expires"]
        return expires

    async def redeem(self, org_id: str, token_sha256: bytes) -> RedeemedLink | None:
        """Mark a live link used; None for an unknown, used or expired one."""
        row = await self._conn.fetchrow(_REDEEM_LINK, org_id, token_sha256)
        if row is None:
            return None
        return RedeemedLink(org_id=row["org_id"], admin_email=row["admin_email"])
