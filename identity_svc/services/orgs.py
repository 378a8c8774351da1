"""Use cases of orgs and members' direct roles."""

from __future__ import annotations

from typing import Any

import asyncpg

from identity_svc.db.orgs import OrgsRepository
from identity_svc.db.users import UsersRepository
from identity_svc.domain.errors import InvalidValue, NotFound
from identity_svc.domain.member_name import MemberName
from identity_svc.domain.models import Org, Role, User, WriteContext
from identity_svc.domain.user_document import derive_user_fields, normalize_user_document
from identity_svc.services.roles import apply_role_changes, record_new_role
from identity_svc.services.transactions import UnitOfWork, run_read, run_write
from scim_schema import urns


def _admin_document(email: str, name: MemberName | None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schemas": [urns.CORE_USER],
        "userName": email,
        "emails": [{"value": email, "type": "work", "primary": True}],
        "active": True,
    }
    return name.applied_to(document) if name is not None else document


async def create_org(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    name: str,
    admin_email: str,
    sso_configured: bool,
    admin_name: MemberName | None = None,
) -> Org:
    """Create an org whose first member is its admin, an ORG_ADMIN directly.

    Without `admin_name` that member has no `name` (SPEC §5 wants one: the
    operator CLI warns, and `member set-name` adds it later).
    """
    if not name.strip():
        raise InvalidValue("an org needs a name")
    if "@" not in admin_email:
        raise InvalidValue("admin email must be an email address")
    document = normalize_user_document(_admin_document(admin_email, admin_name))
    fields = derive_user_fields(document)  # refuses over-long names before anything is written

    async def work(uow: UnitOfWork) -> Org:
        org = await OrgsRepository(uow.conn).insert(org_id, name, sso_configured)
        admin = await UsersRepository(uow.conn).insert(org_id, fields, document, Role.ORG_ADMIN)
        uow.record(org_id, "org.created", "Org", org_id, {"name": name})
        uow.record(org_id, "user.created", "User", admin.id, {"userName": admin.user_name})
        uow.record(org_id, "user.direct_role_set", "User", admin.id, {"role": "ORG_ADMIN"})
        record_new_role(uow, admin)  # inserted with its role: ORG_ADMIN
        return org

    return await run_write(pool, context, work)


async def get_org(pool: asyncpg.Pool, org_id: str) -> Org:
    return await run_read(pool, lambda conn: OrgsRepository(conn).get(org_id))


async def set_sso(pool: asyncpg.Pool, context: WriteContext, org_id: str, configured: bool) -> Org:
    async def work(uow: UnitOfWork) -> Org:
        repo = OrgsRepository(uow.conn)
        before = await repo.get(org_id)
        org = await repo.set_sso(org_id, configured)
        if before.sso_configured != configured:
            uow.record(org_id, "org.sso_changed", "Org", org_id, {"sso_configured": configured})
        return org

    return await run_write(pool, context, work)


async def set_direct_role(
    pool: asyncpg.Pool, context: WriteContext, org_id: str, user_name: str, role: Role | None
) -> User:
    async def work(uow: UnitOfWork) -> User:
        users = UsersRepository(uow.conn)
        found = await users.find_by_user_name(org_id, user_name)
        if found is None:
            raise NotFound(f"no member {user_name!r} in org {org_id}")
        user = await users.get(org_id, found.id, lock=True)
        if user.direct_role == role:
            return user
        updated = await users.set_direct_role(org_id, user.id, role)
        uow.record(
            org_id, "user.direct_role_set", "User", user.id, {"role": role.value if role else None}
        )
        await apply_role_changes(uow, org_id, [user.id])
        return updated

    return await run_write(pool, context, work)
