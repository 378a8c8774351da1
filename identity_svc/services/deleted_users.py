"""The restore window (issue 10): deleted members are restored, listed and purged.

A SCIM DELETE keeps a copy of the member (services/users.py delete_user).
An Org Admin can restore it, as it was, until the window has passed; then the
purge, which every replica runs, removes the copy.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg

from identity_svc.db.deleted_users import DeletedUsersRepository
from identity_svc.db.groups import GroupsRepository
from identity_svc.db.orgs import OrgsRepository
from identity_svc.db.roles import hold_rules
from identity_svc.db.users import UsersRepository
from identity_svc.domain.errors import AlreadyExists, InvalidCursor, InvalidValue
from identity_svc.domain.models import Actor, DeletedUser, Group, User, WriteContext
from identity_svc.domain.user_document import derive_user_fields
from identity_svc.services.roles import apply_role_changes, record_new_role, require_org_admin
from identity_svc.services.transactions import UnitOfWork, run_read, run_write

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# Copies purged per transaction: a backlog is purged in bounded steps.
PURGE_BATCH = 500

_PURGER = WriteContext(Actor("service", "restore-window-purge"), "purge")


async def _begin(conn: Connection, org_id: str, actor: Actor) -> None:
    await OrgsRepository(conn).get(org_id)  # NotFound before PermissionDenied
    await require_org_admin(conn, org_id, actor)


async def _rejoin(uow: UnitOfWork, user: User, groups: list[Group]) -> None:
    """Add the member back to these (locked) groups, as a PATCH adding it would."""
    repo = GroupsRepository(uow.conn)
    for group in groups:
        await repo.add_members(user.org_id, group.id, [uuid.UUID(user.id)])
        await repo.update(user.org_id, group.id, group.display_name, group.external_id, 1)
        uow.record(user.org_id, "group.member_added", "Group", group.id, {"user_id": user.id})


async def _reinsert(uow: UnitOfWork, deleted: DeletedUser) -> User:
    fields = derive_user_fields(deleted.document)
    try:
        return await UsersRepository(uow.conn).insert(
            deleted.org_id, fields, deleted.document, deleted.direct_role, restoring=deleted
        )
    except AlreadyExists as exc:
        raise AlreadyExists(
            "userName",
            f"userName {deleted.user_name!r} is taken by a newer member; free it first"
            " (delete or rename that member in the IdP), then restore",
        ) from exc


async def restore_member(
    pool: asyncpg.Pool, context: WriteContext, org_id: str, user_name: str, window: timedelta
) -> tuple[User, list[str]]:
    """Bring back the most recently deleted member with `user_name`, as it was.

    Same id, document and created time; its version goes on from the deleted
    one. It rejoins the groups it was in that still exist (returns the ids of
    the others) and its role is derived again.
    """

    async def work(uow: UnitOfWork) -> tuple[User, list[str]]:
        await _begin(uow.conn, org_id, uow.context.actor)
        archive = DeletedUsersRepository(uow.conn)
        deleted = await archive.lock_latest(org_id, user_name, window)
        # Its groups that still exist, locked before the rules and the user,
        # in the order every write takes them (db/groups.py).
        groups = await GroupsRepository(uow.conn).lock_many(org_id, deleted.group_ids)
        # The insert derives the role from the default, as a create does,
        # under the rules lock; the recompute below adds the groups' roles.
        await hold_rules(uow.conn, org_id)
        user = await _reinsert(uow, deleted)
        uow.record(org_id, "user.restored", "User", user.id, {"userName": user.user_name})
        record_new_role(uow, user)
        await _rejoin(uow, user, groups)
        await apply_role_changes(uow, org_id, [user.id])
        await archive.delete(org_id, deleted.id)
        present = {g.id for g in groups}
        missing = [g for g in deleted.group_ids if g not in present]
        return await UsersRepository(uow.conn).get_with_groups(org_id, user.id), missing

    return await run_write(pool, context, work)


def _page_token(last: DeletedUser) -> str:
    return f"{last.deleted_at.isoformat()}_{last.id}"


def _position(token: str) -> tuple[datetime, uuid.UUID] | None:
    if not token:
        return None
    try:
        deleted_at, user_id = token.split("_")
        parsed = datetime.fromisoformat(deleted_at)
        if parsed.tzinfo is None:  # ours always carry their offset
            raise ValueError("no offset")
        # In UTC, or it is a time no timestamp holds (year 1 at +14:00).
        return parsed.astimezone(UTC), uuid.UUID(user_id)
    except (ValueError, OverflowError) as exc:
        raise InvalidCursor("page_token is not one this service gave") from exc


def _page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidValue("page_size must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


async def list_deleted_members(
    pool: asyncpg.Pool,
    org_id: str,
    actor: Actor,
    window: timedelta,
    page_size: int,
    page_token: str,
) -> tuple[list[DeletedUser], str]:
    """The restorable members, newest first, a page at a time; and the next page's token."""
    size, after = _page_size(page_size), _position(page_token)

    async def work(conn: Connection) -> tuple[list[DeletedUser], str]:
        await _begin(conn, org_id, actor)
        found = await DeletedUsersRepository(conn).restorable(org_id, window, size + 1, after)
        page = found[:size]
        return page, _page_token(page[-1]) if len(found) > size else ""

    return await run_read(pool, work)


async def purge_expired(pool: asyncpg.Pool, window: timedelta, batch: int = PURGE_BATCH) -> int:
    """Delete the copies deleted longer than `window` ago, with user.purged events.

    Safe on several replicas at once: each batch takes only copies that no
    other transaction holds. Returns how many this call purged.
    """

    async def work(uow: UnitOfWork) -> int:
        purged = await DeletedUsersRepository(uow.conn).purge_expired(window, batch)
        for org_id, user_id, user_name in purged:
            uow.record(org_id, "user.purged", "User", user_id, {"userName": user_name})
        return len(purged)

    total = 0
    while (count := await run_write(pool, _PURGER, work)) == batch:
        total += count
    return total + count
