"""SCIM keys: created and revoked by Org Admins, verified for the gateway.

A token is `gscim_<key id>_<secret>`, the secret 256 random bits. Only
SHA-256(secret) is stored: the secret is not guessable, so a slow password
hash would add latency to every request and no safety (SPEC §5).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from identity_api.scim_tokens import new_token, parse_token
from identity_svc.db.keys import KeysRepository
from identity_svc.db.orgs import OrgsRepository
from identity_svc.domain.errors import FailedPrecondition, InvalidValue
from identity_svc.domain.models import Actor, ScimKey, WriteContext
from identity_svc.services.roles import require_org_admin
from identity_svc.services.transactions import UnitOfWork, run_read, run_write

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

_LAST_USED_GRANULARITY = timedelta(minutes=1)
# Far enough for any rotation policy, near enough that no date overflows.
MAX_LIFETIME = timedelta(days=3650)


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _lifetime(expires_in_seconds: int) -> timedelta | None:
    if expires_in_seconds < 0 or expires_in_seconds > MAX_LIFETIME.total_seconds():
        raise InvalidValue(
            f"a key expires within {MAX_LIFETIME.days} days (0: never), "
            f"got {expires_in_seconds} seconds"
        )
    return timedelta(seconds=expires_in_seconds) if expires_in_seconds else None


async def create_key(
    pool: asyncpg.Pool, context: WriteContext, org_id: str, name: str, expires_in_seconds: int = 0
) -> tuple[ScimKey, str]:
    """A new key and its token, which is never available again."""
    if not name.strip():
        raise FailedPrecondition("a SCIM key needs a descriptive name")
    lifetime = _lifetime(expires_in_seconds)
    key_id, secret, token = new_token()

    async def work(uow: UnitOfWork) -> ScimKey:
        org = await OrgsRepository(uow.conn).get(org_id)
        await require_org_admin(uow.conn, org_id, context.actor)
        if not org.sso_configured:
            raise FailedPrecondition(
                f"SSO is not configured for org {org_id}; configure SSO before creating SCIM keys"
            )
        key = await KeysRepository(uow.conn).insert(
            org_id, key_id, name.strip(), _hash(secret), str(context.actor), lifetime
        )
        data = {"name": key.name}
        if key.expires is not None:
            data["expires"] = key.expires.isoformat()
        uow.record(org_id, "key.created", "ScimKey", key_id, data)
        return key

    key = await run_write(pool, context, work)
    return key, token


async def list_keys(pool: asyncpg.Pool, org_id: str, actor: Actor) -> list[ScimKey]:
    async def work(conn: Connection) -> list[ScimKey]:
        await OrgsRepository(conn).get(org_id)
        await require_org_admin(conn, org_id, actor)
        return await KeysRepository(conn).list(org_id)

    return await run_read(pool, work)


async def revoke_key(
    pool: asyncpg.Pool, context: WriteContext, org_id: str, key_id: str
) -> ScimKey:
    async def work(uow: UnitOfWork) -> ScimKey:
        await OrgsRepository(uow.conn).get(org_id)
        await require_org_admin(uow.conn, org_id, context.actor)
        key, revoked_now = await KeysRepository(uow.conn).revoke(org_id, key_id)
        if revoked_now:  # revoking twice is a no-op, not a second event
            uow.record(org_id, "key.revoked", "ScimKey", key_id, {"name": key.name})
        return key

    return await run_write(pool, context, work)


async def verify_key(pool: asyncpg.Pool, org_id: str, token: str) -> ScimKey | None:
    """The live (neither revoked nor expired) key of `org_id` that `token` presents, else None."""
    parsed = parse_token(token)
    if parsed is None:
        return None
    key_id, secret = parsed
    async with pool.acquire() as conn:
        found = await KeysRepository(conn).get_with_hash(org_id, key_id)
        if found is None:
            return None
        key, stored = found
        now = datetime.now(UTC)
        # Expired is refused exactly like revoked: the same "invalid", no reason told.
        if not hmac.compare_digest(_hash(secret), stored) or not key.live(now):
            return None
        if key.last_used is None or now - key.last_used > _LAST_USED_GRANULARITY:
            await KeysRepository(conn).touch(org_id, key_id)
    return key
