"""Use cases of SCIM users; each write is one transaction with its events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import asyncpg

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.deleted_users import DeletedUsersRepository
from identity_svc.db.filter_attributes import Resource
from identity_svc.db.groups import GroupsRepository
from identity_svc.db.listing import ListedRows, list_rows
from identity_svc.db.orgs import OrgsRepository
from identity_svc.db.roles import hold_rules
from identity_svc.db.users import USER_COLUMNS, UsersRepository, user_from_row
from identity_svc.domain.errors import NotFound, PermissionDenied, VersionMismatch
from identity_svc.domain.member_name import MemberName
from identity_svc.domain.models import GroupRef, Page, User, WriteContext
from identity_svc.domain.user_document import derive_user_fields, normalize_user_document
from identity_svc.domain.user_patch import apply_user_patch
from identity_svc.services.brake import admit_deprovisions, run_guarded_write
from identity_svc.services.roles import apply_role_changes, record_new_role, require_org_admin
from identity_svc.services.transactions import (
    UnitOfWork,
    run_listing,
    run_read,
    run_write,
)

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection


def check_version(current: int, expected: int | None) -> None:
    """If-Match: without an expected version, writes never fail on version."""
    if expected is not None and current != expected:
        raise VersionMismatch(f"version is {current}, not {expected}")


async def _with_groups(conn: Connection, user: User, include: bool) -> User:
    if not include:
        return user
    groups = await UsersRepository(conn).groups_of(user.org_id, [user.id])
    return replace(user, groups=groups[user.id])


def _record_update(uow: UnitOfWork, before: User, after: User) -> None:
    uow.record(after.org_id, "user.updated", "User", after.id, {"version": after.version})
    if before.active != after.active:
        kind = "user.reactivated" if after.active else "user.deactivated"
        uow.record(after.org_id, kind, "User", after.id)


async def create_user(
    pool: asyncpg.Pool, context: WriteContext, org_id: str, attributes: dict[str, Any]
) -> User:
    document = normalize_user_document(attributes)
    document.setdefault("active", True)  # stored explicitly, so it is always returned
    fields = derive_user_fields(document)

    async def work(uow: UnitOfWork) -> User:
        # The insert derives the new member's role (the org's default) itself;
        # the rules lock keeps a concurrent default-role change from missing it.
        await hold_rules(uow.conn, org_id)
        user = await UsersRepository(uow.conn).insert(org_id, fields, document)
        uow.record(org_id, "user.created", "User", user.id, {"userName": user.user_name})
        record_new_role(uow, user)
        return replace(user, groups=())

    return await run_write(pool, context, work)


async def get_user(pool: asyncpg.Pool, org_id: str, user_id: str, include_groups: bool) -> User:
    # One statement either way: its own snapshot, no transaction needed.
    async with pool.acquire() as conn:
        users = UsersRepository(conn)
        if include_groups:
            return await users.get_with_groups(org_id, user_id)
        return await users.get(org_id, user_id)


async def _rewrite(
    uow: UnitOfWork, before: User, document: dict[str, Any], include_groups: bool
) -> User:
    """Store `document` if it differs from what is stored; a no-op writes nothing."""
    document = normalize_user_document(document)
    # Only an explicit `active` changes the status: a PUT that omits it, a
    # `remove active` or a replace with null keep a suspension in place, so
    # deprovisioning is never lifted by accident.
    document.setdefault("active", before.active)
    if document == before.document:
        return await _with_groups(uow.conn, before, include_groups)
    after = await UsersRepository(uow.conn).update(
        before.org_id, before.id, derive_user_fields(document), document
    )
    _record_update(uow, before, after)
    if before.display_name != after.display_name:
        # Its groups show it as members[].display. This locks groups after the
        # user, against the one order: a write of one of its groups that also
        # locks this member (a membership change of it, or the group's rename
        # or deletion) can then deadlock; Postgres aborts one and it is retried
        # (identity_transaction_retries_total counts it). Taking the groups
        # first would cost every user write a statement for a rare race.
        await GroupsRepository(uow.conn).touch_groups_of(after.org_id, after.id)
    if before.active != after.active:
        # Suspension takes the role away; reactivation restores it (SPEC §5). A
        # rule change holding the rules lock may deadlock with us here: Postgres
        # aborts one side and run_write retries it.
        await apply_role_changes(uow, after.org_id, [after.id])
    if before.active and not after.active:
        await admit_deprovisions(uow, after.org_id, [after.id], "deactivation")
    return await _with_groups(uow.conn, after, include_groups)


async def replace_user(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    user_id: str,
    attributes: dict[str, Any],
    expected_version: int | None,
    include_groups: bool,
) -> User:
    async def work(uow: UnitOfWork) -> User:
        before = await UsersRepository(uow.conn).get(org_id, user_id, lock=True)
        check_version(before.version, expected_version)
        return await _rewrite(uow, before, attributes, include_groups)

    return await run_guarded_write(pool, context, org_id, work)


async def patch_user(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    user_id: str,
    operations: Sequence[pb.PatchOperation],
    expected_version: int | None,
    include_groups: bool,
) -> User:
    async def work(uow: UnitOfWork) -> User:
        before = await UsersRepository(uow.conn).get(org_id, user_id, lock=True)
        check_version(before.version, expected_version)
        patched = apply_user_patch(before.document, before.id, operations)
        return await _rewrite(uow, before, patched, include_groups)

    return await run_guarded_write(pool, context, org_id, work)


async def set_member_name(
    pool: asyncpg.Pool, context: WriteContext, org_id: str, user_name: str, name: MemberName
) -> User:
    """The operator's name for a member (`identityctl member set-name`).

    A user write like a SCIM one: same document rules, version bump and
    `user.updated` event; setting the name it already has writes nothing.
    """

    async def work(uow: UnitOfWork) -> User:
        await OrgsRepository(uow.conn).get(org_id)
        await require_org_admin(uow.conn, org_id, context.actor)
        users = UsersRepository(uow.conn)
        found = await users.find_by_user_name(org_id, user_name)
        if found is None:
            raise NotFound(f"no member {user_name!r} in org {org_id}")
        before = await users.get(org_id, found.id, lock=True)
        return await _rewrite(uow, before, name.applied_to(before.document), include_groups=False)

    return await run_write(pool, context, work)


async def delete_user(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    user_id: str,
    expected_version: int | None,
) -> None:
    """Delete a user and its memberships, keeping its groups' counts right.

    A copy is kept for the restore window (services/deleted_users.py).
    """

    async def work(uow: UnitOfWork) -> None:
        groups, users = GroupsRepository(uow.conn), UsersRepository(uow.conn)
        await groups.lock_groups_of(org_id, user_id)  # groups before the user
        user = await users.get(org_id, user_id, lock=True)
        check_version(user.version, expected_version)
        if user.direct_role is not None:
            # SPEC §5: provisioning never removes a direct role, so an IdP
            # cannot delete the org's admins (deactivation only suspends).
            raise PermissionDenied(
                f"{user.user_name} holds the direct role {user.direct_role.value} in GraphOS;"
                " an operator must clear it before the member can be deleted"
            )
        # Restorable for the restore window, with its groups (issue 10).
        await DeletedUsersRepository(uow.conn).archive(org_id, user.id, str(uow.context.actor))
        for group in await groups.remove_user_everywhere(org_id, user.id):
            uow.record(org_id, "group.member_removed", "Group", group.id, {"user_id": user.id})
        await users.delete(org_id, user.id)
        uow.record(org_id, "user.deleted", "User", user.id, {"userName": user.user_name})
        if user.active:  # a suspended member's deletion takes no one's access
            await admit_deprovisions(uow, org_id, [user.id], "deletion")

    await run_guarded_write(pool, context, org_id, work)


async def list_users(
    pool: asyncpg.Pool, org_id: str, request: pb.ListUsersRequest, max_page_size: int
) -> Page[User]:
    async def work(conn: Connection) -> tuple[list[User], ListedRows]:
        listed = await list_rows(conn, Resource.USERS, org_id, USER_COLUMNS, request, max_page_size)
        if not (request.include_groups and listed.rows):
            return [user_from_row(r) for r in listed.rows], listed
        groups = await UsersRepository(conn).groups_of(org_id, [r["id"] for r in listed.rows])
        return [user_from_row(r, groups[str(r["id"])]) for r in listed.rows], listed

    return await run_listing(pool, work)


async def list_user_groups(pool: asyncpg.Pool, org_id: str, user_id: str) -> tuple[GroupRef, ...]:
    async def work(conn: Connection) -> tuple[GroupRef, ...]:
        user = await UsersRepository(conn).get(org_id, user_id)
        return (await UsersRepository(conn).groups_of(org_id, [user.id]))[user.id]

    return await run_read(pool, work)
