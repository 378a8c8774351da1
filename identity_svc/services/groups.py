"""Use cases of SCIM groups and memberships; each write is one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import asyncpg

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filter_attributes import Resource
from identity_svc.db.groups import GROUP_COLUMNS, GroupsRepository, group_from_row
from identity_svc.db.listing import ListedRows, list_rows
from identity_svc.db.users import UsersRepository
from identity_svc.domain.errors import InvalidValue
from identity_svc.domain.group_patch import (
    AddMembers,
    RemoveMembers,
    RemoveMembersWhere,
    ReplaceMembers,
    SetDisplayName,
    SetExternalId,
    Step,
    plan_group_patch,
)
from identity_svc.domain.limits import indexable
from identity_svc.domain.models import Group, Member, Page, WriteContext
from identity_svc.services.brake import admit_deprovisions, run_guarded_write
from identity_svc.services.roles import (
    apply_role_changes,
    roles_after_group_change,
    roles_before_group_delete,
)
from identity_svc.services.transactions import UnitOfWork, run_listing, run_read, run_write
from identity_svc.services.users import check_version

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection


@dataclass(frozen=True)
class MemberInclusion:
    """Carry members inline only for groups of at most `max_members`."""

    include: bool = False
    max_members: int = 0

    def wants(self, group: Group) -> bool:
        return self.include and group.member_count <= self.max_members


@dataclass
class _Changes:
    """What a write did to one group, accumulated step by step."""

    display_name: str
    external_id: str | None
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


async def _with_members(conn: Connection, group: Group, inclusion: MemberInclusion) -> Group:
    if not inclusion.wants(group):
        return group
    members = await GroupsRepository(conn).members_of(group.org_id, [group.id])
    return replace(group, members=members[group.id])


async def _apply_step(repo: GroupsRepository, group: Group, step: Step, changes: _Changes) -> None:
    org_id, group_id = group.org_id, group.id
    match step:
        case SetDisplayName(value):
            changes.display_name = value
        case SetExternalId(value):
            changes.external_id = value
        case AddMembers(user_ids):
            ids = await repo.require_users(org_id, list(user_ids))
            changes.added += await repo.add_members(org_id, group_id, ids)
        case RemoveMembers(user_ids):
            changes.removed += await repo.remove_members(org_id, group_id, list(user_ids))
        case RemoveMembersWhere(expr):
            changes.removed += await repo.remove_members_where(org_id, group_id, expr)
        case ReplaceMembers(user_ids):
            ids = await repo.require_users(org_id, list(user_ids))
            changes.removed += await repo.keep_only_members(org_id, group_id, ids)
            changes.added += await repo.add_members(org_id, group_id, ids)


async def _touch_members(uow: UnitOfWork, before: Group, after: Group, changes: _Changes) -> None:
    """New versions of the users whose `groups` a write changed.

    The members added or removed, and on a rename every member: their
    resources show the group's displayName.
    """
    users = UsersRepository(uow.conn)
    if before.display_name != after.display_name:
        await users.touch_members_of(after.org_id, after.id)  # the added among them
        await users.touch(after.org_id, changes.removed)
    else:
        await users.touch(after.org_id, changes.added + changes.removed)


def _record(uow: UnitOfWork, before: Group, changes: _Changes) -> None:
    org_id, group_id = before.org_id, before.id
    if changes.display_name != before.display_name:
        uow.record(
            org_id, "group.renamed", "Group", group_id, {"displayName": changes.display_name}
        )
    if changes.external_id != before.external_id:
        uow.record(org_id, "group.updated", "Group", group_id, {"externalId": changes.external_id})
    for user_id in changes.added:
        uow.record(org_id, "group.member_added", "Group", group_id, {"user_id": user_id})
    for user_id in changes.removed:
        uow.record(org_id, "group.member_removed", "Group", group_id, {"user_id": user_id})


async def _apply(uow: UnitOfWork, before: Group, steps: Sequence[Step]) -> Group:
    """Run the steps on a locked group; a change that changes nothing writes nothing."""
    repo = GroupsRepository(uow.conn)
    changes = _Changes(before.display_name, before.external_id)
    for step in steps:
        await _apply_step(repo, before, step, changes)
    unchanged = (
        changes.display_name == before.display_name
        and changes.external_id == before.external_id
        and not changes.added
        and not changes.removed
    )
    if unchanged:
        return before
    _record(uow, before, changes)
    delta = len(changes.added) - len(changes.removed)
    after = await repo.update(
        before.org_id, before.id, changes.display_name, changes.external_id, delta
    )
    await _touch_members(uow, before, after, changes)
    mapped = await roles_after_group_change(
        uow,
        before.id,
        before.org_id,
        (before.display_name, after.display_name),
        changes.added + changes.removed,
    )
    if mapped:  # members removed from a group that gives a role are deprovisioned
        await admit_deprovisions(uow, before.org_id, changes.removed, "group_removal")
    return after


async def create_group(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    display_name: str,
    external_id: str | None,
    member_ids: Sequence[str],
    inclusion: MemberInclusion,
) -> Group:
    if not display_name.strip():
        raise InvalidValue("displayName is required")
    indexable("displayName", display_name)
    indexable("externalId", external_id)

    async def work(uow: UnitOfWork) -> Group:
        repo = GroupsRepository(uow.conn)
        group = await repo.insert(org_id, display_name, external_id)
        uow.record(org_id, "group.created", "Group", group.id, {"displayName": display_name})
        if member_ids:
            ids = await repo.require_users(org_id, list(member_ids))
            added = await repo.add_members(org_id, group.id, ids)
            group = await repo.set_initial_count(org_id, group.id, len(added))
            await UsersRepository(uow.conn).touch(org_id, added)
            _record(uow, group, _Changes(display_name, external_id, added=added))
            names = (display_name, display_name)
            await roles_after_group_change(uow, group.id, org_id, names, added)
        return await _with_members(uow.conn, group, inclusion)

    return await run_write(pool, context, work)


async def get_group(
    pool: asyncpg.Pool, org_id: str, group_id: str, inclusion: MemberInclusion
) -> Group:
    async def work(conn: Connection) -> Group:
        group = await GroupsRepository(conn).get(org_id, group_id)
        return await _with_members(conn, group, inclusion)

    return await run_read(pool, work)


async def _write_steps(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    group_id: str,
    expected_version: int | None,
    steps_for: Callable[[Group], Sequence[Step]],
    inclusion: MemberInclusion,
) -> Group:
    async def work(uow: UnitOfWork) -> Group:
        before = await GroupsRepository(uow.conn).get(org_id, group_id, lock=True)
        check_version(before.version, expected_version)
        after = await _apply(uow, before, steps_for(before))
        return await _with_members(uow.conn, after, inclusion)

    return await run_guarded_write(pool, context, org_id, work)


async def replace_group(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    group_id: str,
    display_name: str,
    external_id: str | None,
    member_ids: Sequence[str],
    expected_version: int | None,
    inclusion: MemberInclusion,
) -> Group:
    """PUT: the given attributes and complete member list, applied as a delta."""
    if not display_name.strip():
        raise InvalidValue("displayName is required")
    indexable("displayName", display_name)
    indexable("externalId", external_id)
    steps: list[Step] = [
        SetDisplayName(display_name),
        SetExternalId(external_id),
        ReplaceMembers(tuple(member_ids)),
    ]
    return await _write_steps(
        pool, context, org_id, group_id, expected_version, lambda _: steps, inclusion
    )


async def patch_group(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    group_id: str,
    operations: Sequence[pb.PatchOperation],
    expected_version: int | None,
    inclusion: MemberInclusion,
) -> Group:
    return await _write_steps(
        pool,
        context,
        org_id,
        group_id,
        expected_version,
        lambda before: plan_group_patch(before.id, operations),
        inclusion,
    )


async def delete_group(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    group_id: str,
    expected_version: int | None,
) -> None:
    async def work(uow: UnitOfWork) -> None:
        repo = GroupsRepository(uow.conn)
        group = await repo.get(org_id, group_id, lock=True)
        check_version(group.version, expected_version)
        members = await roles_before_group_delete(uow, group)
        await UsersRepository(uow.conn).touch_members_of(org_id, group.id)
        await repo.delete(org_id, group.id)
        uow.record(org_id, "group.deleted", "Group", group.id, {"displayName": group.display_name})
        await apply_role_changes(uow, org_id, members)
        # A mapped group's deletion removes all its members from it.
        await admit_deprovisions(uow, org_id, [str(m) for m in members], "group_removal")

    await run_guarded_write(pool, context, org_id, work)


async def list_groups(
    pool: asyncpg.Pool,
    org_id: str,
    request: pb.ListGroupsRequest,
    inclusion: MemberInclusion,
    max_page_size: int,
) -> Page[Group]:
    async def work(conn: Connection) -> tuple[list[Group], ListedRows]:
        listed = await list_rows(
            conn, Resource.GROUPS, org_id, GROUP_COLUMNS, request, max_page_size
        )
        groups = [group_from_row(r) for r in listed.rows]
        wanted = [g.id for g in groups if inclusion.wants(g)]
        if wanted:
            members = await GroupsRepository(conn).members_of(org_id, wanted)
            groups = [replace(g, members=members[g.id]) if g.id in members else g for g in groups]
        return groups, listed

    return await run_listing(pool, work)


async def list_members(
    pool: asyncpg.Pool, org_id: str, group_id: str, after_user_id: str, count: int
) -> list[Member]:
    async def work(conn: Connection) -> list[Member]:
        group = await GroupsRepository(conn).get(org_id, group_id)
        return await GroupsRepository(conn).member_page(org_id, group.id, after_user_id, count)

    return await run_read(pool, work)
