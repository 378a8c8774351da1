"""One-time console sign-in links (issue #12).

A link signs one Org Admin of one org into the console, once, within
`LINK_LIFETIME`. The token is "{org}.{secret}", the secret 256 random bits
(URL-safe base64, so never a "."); only SHA-256 of the token is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import asyncpg

from identity_svc.db.console_links import ConsoleLinksRepository, RedeemedLink
from identity_svc.db.orgs import OrgsRepository
from identity_svc.domain.errors import InvalidValue, NotFound
from identity_svc.domain.models import Actor, WriteContext
from identity_svc.services.roles import require_org_admin
from identity_svc.services.transactions import UnitOfWork, run_write

LINK_LIFETIME = timedelta(minutes=10)


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_link(
    pool: asyncpg.Pool, context: WriteContext, org_id: str, admin_email: str
) -> tuple[str, datetime]:
    """A new link's token (never available again) and its expiry."""
    email = admin_email.strip()
    if not email:
        raise InvalidValue("a console link names the Org Admin it signs in (admin_email)")
    token = f"{org_id}.{secrets.token_urlsafe(32)}"

    async def work(uow: UnitOfWork) -> datetime:
        await OrgsRepository(uow.conn).get(org_id)
        # Only an Org Admin of this org may be signed in, whoever asks.
        await require_org_admin(uow.conn, org_id, Actor("admin", email))
        expires = await ConsoleLinksRepository(uow.conn).insert(
            org_id, _hash(token), email, str(context.actor), LINK_LIFETIME
        )
        # Sign-in links are the audit log's business (SPEC §6): who issued one for whom.
        data = {"admin_email": email, "expires": expires.isoformat()}
        uow.record(org_id, "console.link_created", "ConsoleLink", email, data)
        return expires

    expires = await run_write(pool, context, work)
    return token, expires


async def redeem_link(pool: asyncpg.Pool, token: str, request_id: str) -> RedeemedLink:
    """Use a link up: who it signs in. NotFound for an unknown, used or expired one."""
    org_id = token.rpartition(".")[0]

    async def work(uow: UnitOfWork) -> RedeemedLink:
        link = await ConsoleLinksRepository(uow.conn).redeem(org_id, _hash(token))
        if link is None:
            raise NotFound("this console link is unknown, used or expired")
        # Still an Org Admin? A demoted admin's link signs nobody in.
        await require_org_admin(uow.conn, link.org_id, Actor("admin", link.admin_email))
        data = {"admin_email": link.admin_email}
        uow.record(link.org_id, "console.signed_in", "ConsoleLink", link.admin_email, data)
        return link

    # The caller is the console, with the operator credential, for the admin.
    return await run_write(pool, WriteContext(Actor("operator"), request_id), work)
