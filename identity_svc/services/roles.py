"""Role rules, the default role, and keeping effective roles current (SPEC §5).

Every change that can move a member's effective role calls `apply_role_changes`
with exactly the members it can affect, in its own transaction; each role that
moves writes a `user.role_changed` event. Rule and default-role edits are for
the operator or an Org Admin of the org, like keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

import asyncpg

from identity_svc.db import roles as roles_db
from identity_svc.db.groups import GroupsRepository
from identity_svc.db.orgs import OrgsRepository
from identity_svc.db.roles import RoleRulesRepository
from identity_svc.db.users import UsersRepository
from identity_svc.domain.errors import InvalidValue, PermissionDenied
from identity_svc.domain.models import Actor, Group, Org, Role, RoleRule, User, WriteContext
from identity_svc.services.transactions import UnitOfWork, run_read, run_write

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection


def _name(role: Role | None) -> str | None:
    return role.value if role else None


async def require_org_admin(conn: Connection, org_id: str, actor: Actor) -> None:
    """The operator, or a member whose effective role is ORG_ADMIN (SPEC §5)."""
    if actor.kind == "operator":
        return
    if actor.kind == "admin" and await UsersRepository(conn).is_org_admin(org_id, actor.name):
        return
    who = actor.name or str(actor)
    raise PermissionDenied(f"{who} is not an Org Admin of org {org_id}")


async def apply_role_changes(
    uow: UnitOfWork, org_id: str, user_ids: Iterable[str | uuid.UUID]
) -> None:
    """Recompute these members' effective roles and record each one that moved."""
    for change in await roles_db.recompute(uow.conn, org_id, user_ids):
        data = {"from": _name(change.before), "to": _name(change.after)}
        uow.record(org_id, "user.role_changed", "User", change.user_id, data)


def record_new_role(uow: UnitOfWork, user: User) -> None:
    """The role_changed event of a member inserted with a role (none → its role)."""
    if user.effective_role is not None:
        data = {"from": None, "to": user.effective_role.value}
        uow.record(user.org_id, "user.role_changed", "User", user.id, data)


async def _rule_members(conn: Connection, rule: RoleRule) -> list[uuid.UUID]:
    if rule.group_id is not None:
        return await roles_db.group_member_ids(conn, rule.org_id, rule.group_id)
    return await roles_db.named_groups_member_ids(conn, rule.org_id, rule.group_name or "")


def rule_data(rule: RoleRule) -> dict[str, str | None]:
    return {
        "rule_id": rule.id,
        "group_id": rule.group_id,
        "group_name": rule.group_name,
        "role": rule.role.value,
    }


async def _begin_rules_edit(uow: UnitOfWork, org_id: str) -> Org:
    """Check the actor, hold the org's rules exclusively, then read the org.

    The org (its default role) is read only once the lock is held, so two
    concurrent edits never both act on the same stale "before".
    """
    await OrgsRepository(uow.conn).get(org_id)  # NotFound before any lock
    await require_org_admin(uow.conn, org_id, uow.context.actor)
    await roles_db.hold_rules(uow.conn, org_id, exclusive=True)
    return await OrgsRepository(uow.conn).get(org_id)


def _target(group_id: str, group_name: str) -> tuple[str | None, str | None]:
    if bool(group_id) == bool(group_name.strip()):
        raise InvalidValue("a role rule names exactly one group: by id or by displayName")
    return (group_id or None), (group_name.strip() or None)


async def _upsert_rule(
    uow: UnitOfWork, org_id: str, group_id: str | None, group_name: str | None, role: Role
) -> tuple[RoleRule, bool]:
    """The target's rule with `role`, and whether anything changed."""
    if group_id is not None:  # NotFound for an unknown or malformed id
        group_id = (await GroupsRepository(uow.conn).get(org_id, group_id)).id
    repo = RoleRulesRepository(uow.conn)
    existing = await repo.find_for_target(org_id, group_id, group_name)
    if existing is not None and existing.role == role:
        return existing, False
    if existing is not None:
        return await repo.set_role(org_id, existing.id, role), True
    actor = str(uow.context.actor)
    return await repo.insert(org_id, group_id, group_name, role, actor), True


async def set_role_rule(
    pool: asyncpg.Pool,
    context: WriteContext,
    org_id: str,
    group_id: str,
    group_name: str,
    role: Role | None,
) -> RoleRule:
    """Map a group (by id or displayName) to a role, replacing its earlier rule."""
    target_id, target_name = _target(group_id, group_name)
    if role is None:
        raise InvalidValue("a role rule needs a role")

    async def work(uow: UnitOfWork) -> RoleRule:
        await _begin_rules_edit(uow, org_id)
        rule, changed = await _upsert_rule(uow, org_id, target_id, target_name, role)
        if changed:
            uow.record(org_id, "role_rule.set", "RoleRule", rule.id, rule_data(rule))
            await apply_role_changes(uow, org_id, await _rule_members(uow.conn, rule))
        return rule

    return await run_write(pool, context, work)


async def list_role_rules(
    pool: asyncpg.Pool, org_id: str, actor: Actor
) -> tuple[list[RoleRule], Role | None]:
    async def work(conn: Connection) -> tuple[list[RoleRule], Role | None]:
        org = await OrgsRepository(conn).get(org_id)
        await require_org_admin(conn, org_id, actor)
        return await RoleRulesRepository(conn).all(org_id), org.default_role

    return await run_read(pool, work)


async def delete_role_rule(
    pool: asyncpg.Pool, context: WriteContext, org_id: str, rule_id: str
) -> None:
    async def work(uow: UnitOfWork) -> None:
        await _begin_rules_edit(uow, org_id)
        rule = await RoleRulesRepository(uow.conn).delete(org_id, rule_id)
        uow.record(org_id, "role_rule.deleted", "RoleRule", rule.id, rule_data(rule))
        await apply_role_changes(uow, org_id, await _rule_members(uow.conn, rule))

    await run_write(pool, context, work)


async def set_default_role(
    pool: asyncpg.Pool, context: WriteContext, org_id: str, role: Role | None
) -> Org:
    """Set (or clear) the role of members with no direct role and no mapped group."""

    async def work(uow: UnitOfWork) -> Org:
        before = await _begin_rules_edit(uow, org_id)
        if before.default_role == role:
            return before
        holders = await roles_db.default_role_holders(uow.conn, org_id, before.default_role)
        org = await OrgsRepository(uow.conn).set_default_role(org_id, role)
        uow.record(org_id, "org.default_role_set", "Org", org_id, {"role": _name(role)})
        await apply_role_changes(uow, org_id, holders)
        return org

    return await run_write(pool, context, work)


async def roles_after_group_change(
    uow: UnitOfWork,
    group_id: str,
    org_id: str,
    names: tuple[str, str],
    changed_members: Iterable[str],
) -> bool:
    """Recompute after a group's members and/or displayName changed.

    `names` is (before, after). Only a mapped group moves roles: its changed
    members, and all its members when a rename changes which by-name rule matches.
    Returns whether the group is mapped to a role (by id or either name).
    """
    by_id, by_name = await roles_db.group_mapping(uow.conn, org_id, group_id, list(names))
    if not (by_id or by_name):
        return False
    affected: set[str | uuid.UUID] = set(changed_members)
    if by_name and names[0].lower() != names[1].lower():
        affected.update(await roles_db.group_member_ids(uow.conn, org_id, group_id))
    await apply_role_changes(uow, org_id, affected)
    return True


async def roles_before_group_delete(uow: UnitOfWork, group: Group) -> list[uuid.UUID]:
    """Drop the rules naming a group by id; the members to recompute once it is gone."""
    names = [group.display_name]
    by_id, by_name = await roles_db.group_mapping(uow.conn, group.org_id, group.id, names)
    if not (by_id or by_name):
        return []
    for rule in await RoleRulesRepository(uow.conn).delete_for_group(group.org_id, group.id):
        uow.record(group.org_id, "role_rule.deleted", "RoleRule", rule.id, rule_data(rule))
    return await roles_db.group_member_ids(uow.conn, group.org_id, group.id)
