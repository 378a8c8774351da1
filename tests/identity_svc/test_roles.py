"""Effective roles from IdP groups (SPEC §5) over real gRPC and Postgres.

Each change that can move a role moves it in its own transaction and writes
one user.role_changed event; a change that changes nothing moves nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from tests.identity_svc.member_support import (
    add_members,
    new_group,
    new_user,
    patch_group,
    remove_members,
    rename,
    role_events,
    role_of,
    set_active,
    set_rule,
)
from tests.identity_svc.support import GATEWAY, OPERATOR

ADMIN_CONTEXT = pb.RequestContext(actor=pb.Actor(admin_email="admin@x.test"))


async def test_joining_and_leaving_a_mapped_group_moves_the_role(
    prov, admin, directory, org, db_pool
):
    user = await new_user(prov, org, "ada@x.test")
    group = await new_group(prov, org, "Engineers")
    await set_rule(admin, org, "GRAPH_ADMIN", group_id=group)
    assert await role_of(directory, org, user) is None

    await patch_group(prov, org, group, add_members(user))
    assert await role_of(directory, org, user) == "GRAPH_ADMIN"
    await patch_group(prov, org, group, remove_members(user))
    assert await role_of(directory, org, user) is None
    events = [e for e in await role_events(db_pool, org) if e[0] == user]
    assert events == [(user, None, "GRAPH_ADMIN"), (user, "GRAPH_ADMIN", None)]


async def test_renaming_into_and_out_of_a_name_rule(prov, admin, directory, org, db_pool):
    user = await new_user(prov, org, "ada@x.test")
    group = await new_group(prov, org, "Staff", user)
    await set_rule(admin, org, "CONTRIBUTOR", name="graph engineers")
    assert await role_of(directory, org, user) is None

    await patch_group(prov, org, group, rename("Graph Engineers"))  # matched ignoring case
    assert await role_of(directory, org, user) == "CONTRIBUTOR"
    await patch_group(prov, org, group, rename("Staff"))
    assert await role_of(directory, org, user) is None
    events = [e for e in await role_events(db_pool, org) if e[0] == user]
    assert events == [(user, None, "CONTRIBUTOR"), (user, "CONTRIBUTOR", None)]


async def test_rule_set_changed_and_deleted(prov, admin, directory, org, db_pool):
    user = await new_user(prov, org, "ada@x.test")
    await new_group(prov, org, "Docs", user)
    rule = await set_rule(admin, org, "DOCUMENTER", name="docs")
    assert await role_of(directory, org, user) == "DOCUMENTER"

    changed = await set_rule(admin, org, "OBSERVER", name="DOCS")  # same target: replaced
    assert changed.id == rule.id
    assert await role_of(directory, org, user) == "OBSERVER"
    listed = await admin.ListRoleRules(pb.ListRoleRulesRequest(context=OPERATOR, org_id=org))
    assert [(r.id, r.group_display_name, r.role) for r in listed.rules] == [
        (rule.id, "docs", pb.OBSERVER)
    ]

    await admin.DeleteRoleRule(
        pb.DeleteRoleRuleRequest(context=OPERATOR, org_id=org, rule_id=rule.id)
    )
    assert await role_of(directory, org, user) is None
    events = [e for e in await role_events(db_pool, org) if e[0] == user]
    assert events == [
        (user, None, "DOCUMENTER"),
        (user, "DOCUMENTER", "OBSERVER"),
        (user, "OBSERVER", None),
    ]
    types = [
        r["type"]
        for r in await db_pool.fetch(
            "SELECT type FROM events WHERE org_id = $1 AND type LIKE 'role_rule.%' ORDER BY seq",
            org,
        )
    ]
    assert types == ["role_rule.set", "role_rule.set", "role_rule.deleted"]


async def test_deactivation_removes_the_role_and_reactivation_restores_it(
    prov, admin, directory, org, db_pool
):
    user = await new_user(prov, org, "ada@x.test")
    group = await new_group(prov, org, "Admins", user)
    await set_rule(admin, org, "ORG_ADMIN", group_id=group)

    await set_active(prov, org, user, False)
    answer = await directory.GetEffectiveRole(pb.GetEffectiveRoleRequest(org_id=org, user_id=user))
    assert (answer.role, answer.suspended) == (pb.ROLE_UNSPECIFIED, True)
    await set_active(prov, org, user, True)
    answer = await directory.GetEffectiveRole(pb.GetEffectiveRoleRequest(org_id=org, user_id=user))
    assert (answer.role, answer.suspended) == (pb.ORG_ADMIN, False)
    events = [e for e in await role_events(db_pool, org) if e[0] == user]
    assert events == [
        (user, None, "ORG_ADMIN"),
        (user, "ORG_ADMIN", None),
        (user, None, "ORG_ADMIN"),
    ]


async def test_default_role_for_members_in_no_mapped_group(prov, admin, directory, org):
    mapped = await new_user(prov, org, "mapped@x.test")
    plain = await new_user(prov, org, "plain@x.test")
    suspended = await new_user(prov, org, "gone@x.test", active=False)
    group = await new_group(prov, org, "Graph", mapped)
    await set_rule(admin, org, "GRAPH_ADMIN", group_id=group)

    org_answer = await admin.SetDefaultRole(
        pb.SetDefaultRoleRequest(context=OPERATOR, org_id=org, role=pb.CONSUMER)
    )
    assert org_answer.default_role == pb.CONSUMER
    assert (await admin.GetOrg(pb.GetOrgRequest(org_id=org))).default_role == pb.CONSUMER
    assert await role_of(directory, org, plain) == "CONSUMER"
    assert await role_of(directory, org, mapped) == "GRAPH_ADMIN"
    assert await role_of(directory, org, suspended) is None
    # A member provisioned later starts with the default role.
    late = await new_user(prov, org, "late@x.test")
    assert await role_of(directory, org, late) == "CONSUMER"
    # Leaving the mapped group falls back to the default.
    await patch_group(prov, org, group, remove_members(mapped))
    assert await role_of(directory, org, mapped) == "CONSUMER"

    await admin.SetDefaultRole(pb.SetDefaultRoleRequest(context=OPERATOR, org_id=org))
    assert [await role_of(directory, org, u) for u in (plain, late, mapped)] == [None] * 3


async def test_highest_role_wins_and_the_direct_role_is_kept(prov, admin, directory, org):
    # The org's admin holds ORG_ADMIN directly; groups never take it away.
    the_admin = (
        await directory.GetMember(pb.GetMemberRequest(org_id=org, user_name="ADMIN@x.test"))
    ).user.id
    user = await new_user(prov, org, "ada@x.test")
    low = await new_group(prov, org, "Billing", user, the_admin)
    high = await new_group(prov, org, "Contributors", user, the_admin)
    await set_rule(admin, org, "BILLING_MANAGER", group_id=low)
    await set_rule(admin, org, "CONTRIBUTOR", group_id=high)
    assert await role_of(directory, org, user) == "CONTRIBUTOR"
    assert await role_of(directory, org, the_admin) == "ORG_ADMIN"

    await admin.SetDirectRole(
        pb.SetDirectRoleRequest(
            context=OPERATOR, org_id=org, user_name="ada@x.test", role=pb.OBSERVER
        )
    )
    assert await role_of(directory, org, user) == "CONTRIBUTOR"  # higher than the direct role
    await patch_group(prov, org, high, remove_members(user, the_admin))
    assert await role_of(directory, org, user) == "OBSERVER"  # direct beats BILLING_MANAGER
    await set_active(prov, org, the_admin, True)  # no change at all
    assert await role_of(directory, org, the_admin) == "ORG_ADMIN"


async def test_no_op_rename_and_re_add_recompute_nothing(prov, admin, directory, org, db_pool):
    user = await new_user(prov, org, "ada@x.test")
    group = await new_group(prov, org, "Engineers", user)
    await set_rule(admin, org, "GRAPH_ADMIN", name="Engineers")
    before = await role_events(db_pool, org)
    version = (await prov.GetGroup(pb.GetGroupRequest(org_id=org, group_id=group))).meta.version

    # Okta resends the displayName with every membership PATCH.
    after = await patch_group(prov, org, group, rename("Engineers"), add_members(user))
    assert after.meta.version == version
    assert await role_events(db_pool, org) == before
    # A case-only rename is a real change of the group but matches the same rule.
    renamed = await patch_group(prov, org, group, rename("ENGINEERS"))
    assert renamed.meta.version == version + 1
    assert await role_events(db_pool, org) == before
    assert await role_of(directory, org, user) == "GRAPH_ADMIN"


async def test_group_delete_recomputes_and_drops_its_rules(prov, admin, directory, org, db_pool):
    user = await new_user(prov, org, "ada@x.test")
    group = await new_group(prov, org, "Observers", user)
    await set_rule(admin, org, "OBSERVER", group_id=group)
    assert await role_of(directory, org, user) == "OBSERVER"

    await prov.DeleteGroup(pb.DeleteGroupRequest(context=GATEWAY, org_id=org, group_id=group))
    assert await role_of(directory, org, user) is None
    listed = await admin.ListRoleRules(pb.ListRoleRulesRequest(context=OPERATOR, org_id=org))
    assert list(listed.rules) == []
    assert [e for e in await role_events(db_pool, org) if e[0] == user][-1] == (
        user,
        "OBSERVER",
        None,
    )


async def test_an_org_admin_through_a_group_may_edit_rules_and_keys(prov, admin, org):
    await admin.SetOrgSso(pb.SetOrgSsoRequest(context=OPERATOR, org_id=org, sso_configured=True))
    boss = await new_user(prov, org, "boss@x.test")
    await new_group(prov, org, "Org Admins", boss)
    await set_rule(admin, org, "ORG_ADMIN", name="org admins", context=ADMIN_CONTEXT)
    boss_context = pb.RequestContext(actor=pb.Actor(admin_email="BOSS@x.test"))
    await set_rule(admin, org, "CONSUMER", name="everyone", context=boss_context)
    created = await admin.CreateScimKey(
        pb.CreateScimKeyRequest(context=boss_context, org_id=org, name="Okta")
    )
    assert created.token


async def test_only_org_admins_or_the_operator_edit_rules(prov, admin, org):
    await new_user(prov, org, "ada@x.test")
    member = pb.RequestContext(actor=pb.Actor(admin_email="ada@x.test"))
    stranger = pb.RequestContext(actor=pb.Actor(admin_email="nobody@x.test"))
    for context in (member, stranger):
        calls = [
            set_rule(admin, org, "ORG_ADMIN", name="anything", context=context),
            admin.ListRoleRules(pb.ListRoleRulesRequest(context=context, org_id=org)),
            admin.SetDefaultRole(
                pb.SetDefaultRoleRequest(context=context, org_id=org, role=pb.ORG_ADMIN)
            ),
        ]
        for call in calls:
            with pytest.raises(grpc.aio.AioRpcError) as denied:
                await call
            assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    rule = await set_rule(admin, org, "OBSERVER", name="x", context=ADMIN_CONTEXT)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await admin.DeleteRoleRule(
            pb.DeleteRoleRuleRequest(context=member, org_id=org, rule_id=rule.id)
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_suspended_org_admin_loses_admin_rights(prov, admin, org):
    listed = await prov.ListUsers(pb.ListUsersRequest(org_id=org))
    the_admin = listed.users[0].id
    await set_active(prov, org, the_admin, False)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await admin.ListRoleRules(pb.ListRoleRulesRequest(context=ADMIN_CONTEXT, org_id=org))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("group_id", "name", "role", "code"),
    [
        ("", "", pb.OBSERVER, grpc.StatusCode.INVALID_ARGUMENT),
        ("", "x", pb.ROLE_UNSPECIFIED, grpc.StatusCode.INVALID_ARGUMENT),
        ("not-a-uuid", "", pb.OBSERVER, grpc.StatusCode.NOT_FOUND),
        ("00000000-0000-0000-0000-000000000000", "", pb.OBSERVER, grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_bad_rules_are_refused(admin, org, group_id, name, role, code):
    request = pb.SetRoleRuleRequest(context=OPERATOR, org_id=org, role=role)
    if group_id:
        request.group_id = group_id
    if name:
        request.group_display_name = name
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await admin.SetRoleRule(request)
    assert refused.value.code() == code


async def test_deleting_an_unknown_rule_is_not_found(admin, org):
    for rule_id in ("nope", "00000000-0000-0000-0000-000000000000"):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await admin.DeleteRoleRule(
                pb.DeleteRoleRuleRequest(context=OPERATOR, org_id=org, rule_id=rule_id)
            )
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_joins_and_rule_changes_leave_the_highest_role(
    prov, admin, directory, org
):
    # Each member joins two mapped groups at once while a third rule appears: whatever
    # the interleaving, the stored role is the one a fresh recompute would give.
    users = [await new_user(prov, org, f"c{i}@x.test") for i in range(6)]
    low = await new_group(prov, org, "Low")
    high = await new_group(prov, org, "High")
    late = await new_group(prov, org, "Late")
    await set_rule(admin, org, "CONSUMER", group_id=low)
    await set_rule(admin, org, "CONTRIBUTOR", group_id=high)
    writes: list[Awaitable[object]] = [
        patch_group(prov, org, g, add_members(u)) for u in users for g in (low, high, late)
    ]
    writes.append(set_rule(admin, org, "GRAPH_ADMIN", name="late"))
    await asyncio.gather(*writes)
    assert [await role_of(directory, org, u) for u in users] == ["GRAPH_ADMIN"] * len(users)


async def test_a_create_waits_for_a_default_role_change_in_flight(prov, directory, org, db_pool):
    """A member created while a default-role change commits gets the new default.

    The change holds the org's rules lock until it commits; the create reads
    the default only once it holds the lock itself, so it can neither read the
    old default nor be missed by the change's recompute.
    """
    from identity_svc.db.roles import hold_rules

    async with db_pool.acquire() as change:
        transaction = change.transaction()
        await transaction.start()
        try:
            await hold_rules(change, org, exclusive=True)
            await change.execute("UPDATE orgs SET default_role = 'OBSERVER' WHERE org_id = $1", org)
            create = asyncio.ensure_future(new_user(prov, org, "racer@x.test"))
            # The create queues behind the lock (seen in pg_locks), not before it.
            for _ in range(500):
                waiting = await db_pool.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                )
                if waiting or create.done():
                    break
                await asyncio.sleep(0.01)
            assert not create.done(), "the create did not wait for the rules lock"
        finally:
            await transaction.commit()
        user_id = await asyncio.wait_for(create, timeout=30)
    assert await role_of(directory, org, user_id) == "OBSERVER"
