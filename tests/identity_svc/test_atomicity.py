"""Nothing is ever half-applied (SPEC §4, §6, §7): a write and its events are one transaction.

Each test makes a write fail part-way, by bad input or by a fault injected
into Postgres (a trigger scoped to the test's org), and then compares every
row the org owns with what it held before: a failed write leaves no resource
row, no membership and no event, and burns no event sequence. Where the fault
is lifted, the same write then succeeds, so each test also shows that the
write would have changed something.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.faults import INJECTED, events_of, failing_rows, org_state
from tests.identity_svc.member_support import (
    add_members,
    new_group,
    new_user,
    patch_group,
    remove_members,
    rename,
    role_of,
    set_active,
    set_rule,
)
from tests.identity_svc.support import GATEWAY, OPERATOR, error_reason, new_org_id, struct, user_doc

STRANGER = "5f0c3f9e-0000-4000-8000-000000000000"  # well-formed, nobody's id
ADMIN = "admin@x.test"


@dataclass(frozen=True)
class World:
    """An org with SSO, a member in a group mapped to a role, a bystander and a key."""

    org: str
    admin: pb_grpc.OrgAdminAsyncStub
    prov: pb_grpc.ProvisioningAsyncStub
    directory: pb_grpc.DirectoryAsyncStub
    ada: str  # member of Eng, so GRAPH_ADMIN
    bob: str  # in no group
    group: str  # Eng
    rule: str  # Eng -> GRAPH_ADMIN
    key: str


@pytest.fixture
async def world(admin, prov, directory) -> World:
    org = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(
            context=OPERATOR, org_id=org, name="Org", admin_email=ADMIN, sso_configured=True
        )
    )
    ada = await new_user(prov, org, "ada@x.test")
    bob = await new_user(prov, org, "bob@x.test")
    group = await new_group(prov, org, "Eng", ada)
    rule = await set_rule(admin, org, "GRAPH_ADMIN", group_id=group)
    key = await admin.CreateScimKey(pb.CreateScimKeyRequest(context=OPERATOR, org_id=org, name="k"))
    return World(org, admin, prov, directory, ada, bob, group, rule.id, key.key.id)


async def _fails(write: Awaitable[Any], code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await write
    assert caught.value.code() == code, caught.value.details()
    return caught.value


# ------------------------------------------------------- failures inside the work


async def test_a_group_with_one_unknown_member_is_not_created(world, db_pool):
    before = await org_state(db_pool, world.org)
    request = pb.CreateGroupRequest(
        context=GATEWAY, org_id=world.org, display_name="Half", member_ids=[world.bob, STRANGER]
    )
    failed = await _fails(world.prov.CreateGroup(request), grpc.StatusCode.INVALID_ARGUMENT)
    assert error_reason(failed) == "INVALID_VALUE"
    assert STRANGER in str(failed.details())
    # The group row was inserted before the members were checked: it must be gone.
    assert await org_state(db_pool, world.org) == before


async def test_a_patch_failing_on_its_second_operation_undoes_the_first(world, db_pool):
    before = await org_state(db_pool, world.org)
    # The removal runs (a DELETE of ada's membership) before the add finds the stranger.
    failing = patch_group(
        world.prov, world.org, world.group, remove_members(world.ada), add_members(STRANGER)
    )
    assert error_reason(await _fails(failing, grpc.StatusCode.INVALID_ARGUMENT)) == "INVALID_VALUE"
    assert await org_state(db_pool, world.org) == before
    assert await role_of(world.directory, world.org, world.ada) == "GRAPH_ADMIN"


async def test_a_user_whose_values_fail_to_store_is_not_created(world, db_pool):
    before = await org_state(db_pool, world.org)
    request = pb.CreateUserRequest(
        context=GATEWAY, org_id=world.org, attributes=struct(user_doc("cy@x.test"))
    )
    async with failing_rows(db_pool, "user_values", world.org):
        failed = await _fails(world.prov.CreateUser(request), grpc.StatusCode.INTERNAL)
    assert INJECTED not in str(failed.details())  # the cause stays in the log
    assert await org_state(db_pool, world.org) == before
    # Nothing holds the userName: the same request now succeeds.
    assert (await world.prov.CreateUser(request)).user_name == "cy@x.test"


async def test_a_user_delete_that_fails_keeps_its_memberships(world, db_pool):
    before = await org_state(db_pool, world.org)
    request = pb.DeleteUserRequest(context=GATEWAY, org_id=world.org, user_id=world.ada)
    # Her memberships are removed (and Eng's count lowered) before her row is.
    async with failing_rows(db_pool, "users", world.org, "DELETE"):
        await _fails(world.prov.DeleteUser(request), grpc.StatusCode.INTERNAL)
    assert await org_state(db_pool, world.org) == before
    await world.prov.DeleteUser(request)
    count = "SELECT member_count FROM groups WHERE org_id = $1 AND id = $2::uuid"
    assert await db_pool.fetchval(count, world.org, world.group) == 0


async def test_a_rule_whose_role_changes_fail_is_not_set(world, db_pool):
    before = await org_state(db_pool, world.org)
    # The rule row is written before the members' roles are recomputed.
    async with failing_rows(db_pool, "users", world.org, "UPDATE OF effective_role"):
        rule = set_rule(world.admin, world.org, "ORG_ADMIN", name="eng")
        await _fails(rule, grpc.StatusCode.INTERNAL)
    assert await org_state(db_pool, world.org) == before
    await set_rule(world.admin, world.org, "ORG_ADMIN", name="eng")
    assert await role_of(world.directory, world.org, world.ada) == "ORG_ADMIN"


# ------------------------------------------------- failures of the events insert

Write = Callable[[World], Awaitable[Any]]


WRITES: dict[str, Write] = {
    "create user": lambda w: w.prov.CreateUser(
        pb.CreateUserRequest(context=GATEWAY, org_id=w.org, attributes=struct(user_doc("n@x.test")))
    ),
    "replace user": lambda w: w.prov.ReplaceUser(
        pb.ReplaceUserRequest(
            context=GATEWAY,
            org_id=w.org,
            user_id=w.ada,
            attributes=struct(user_doc("ada@x.test", title="Countess")),
        )
    ),
    "deactivate user": lambda w: set_active(w.prov, w.org, w.ada, False),
    "delete user": lambda w: w.prov.DeleteUser(
        pb.DeleteUserRequest(context=GATEWAY, org_id=w.org, user_id=w.ada)
    ),
    "create group": lambda w: new_group(w.prov, w.org, "Ops", w.bob),
    "add member": lambda w: patch_group(w.prov, w.org, w.group, add_members(w.bob)),
    "rename group": lambda w: patch_group(w.prov, w.org, w.group, rename("Platform")),
    "replace group": lambda w: w.prov.ReplaceGroup(
        pb.ReplaceGroupRequest(
            context=GATEWAY, org_id=w.org, group_id=w.group, display_name="Eng", member_ids=[w.bob]
        )
    ),
    "delete group": lambda w: w.prov.DeleteGroup(
        pb.DeleteGroupRequest(context=GATEWAY, org_id=w.org, group_id=w.group)
    ),
    "set role rule": lambda w: set_rule(w.admin, w.org, "ORG_ADMIN", name="Eng"),
    "delete role rule": lambda w: w.admin.DeleteRoleRule(
        pb.DeleteRoleRuleRequest(context=OPERATOR, org_id=w.org, rule_id=w.rule)
    ),
    "set default role": lambda w: w.admin.SetDefaultRole(
        pb.SetDefaultRoleRequest(context=OPERATOR, org_id=w.org, role=pb.CONSUMER)
    ),
    "set direct role": lambda w: w.admin.SetDirectRole(
        pb.SetDirectRoleRequest(
            context=OPERATOR, org_id=w.org, user_name="bob@x.test", role=pb.OBSERVER
        )
    ),
    "set member name": lambda w: w.admin.SetMemberName(
        pb.SetMemberNameRequest(
            context=OPERATOR,
            org_id=w.org,
            user_name="bob@x.test",
            name=pb.PersonName(given_name="Robert", family_name="Babbage"),
        )
    ),
    "set sso": lambda w: w.admin.SetOrgSso(
        pb.SetOrgSsoRequest(context=OPERATOR, org_id=w.org, sso_configured=False)
    ),
    "create key": lambda w: w.admin.CreateScimKey(
        pb.CreateScimKeyRequest(context=OPERATOR, org_id=w.org, name="second")
    ),
    "revoke key": lambda w: w.admin.RevokeScimKey(
        pb.RevokeScimKeyRequest(context=OPERATOR, org_id=w.org, key_id=w.key)
    ),
}


@pytest.mark.parametrize("name", WRITES)
async def test_a_write_whose_events_fail_is_not_applied(world, db_pool, name):
    write = WRITES[name]
    before = await org_state(db_pool, world.org)
    async with failing_rows(db_pool, "event_staging", world.org):
        await _fails(write(world), grpc.StatusCode.INTERNAL)
    # Not the resource, not the sequence reservation, nothing.
    assert await org_state(db_pool, world.org) == before
    # Lifted, the same write goes through and changes the org (with its events).
    await write(world)
    after = await org_state(db_pool, world.org)
    assert after["events"] != before["events"]
    changed = [t for t in after if after[t] != before[t] and t not in ("events", "event_staging")]
    assert changed


async def test_an_org_whose_events_fail_is_not_created(admin, db_pool):
    org = new_org_id()
    request = pb.CreateOrgRequest(context=OPERATOR, org_id=org, name="O", admin_email=ADMIN)
    async with failing_rows(db_pool, "event_staging", org):
        await _fails(admin.CreateOrg(request), grpc.StatusCode.INTERNAL)
    assert all(rows == [] for rows in (await org_state(db_pool, org)).values())
    await admin.CreateOrg(request)
    assert (await events_of(db_pool, org))[:2] == ["org.created", "user.created"]


async def test_a_failed_events_insert_burns_no_sequence(world, db_pool):
    position = "SELECT event_seq FROM orgs WHERE org_id = $1"
    start = await db_pool.fetchval(position, world.org)
    async with failing_rows(db_pool, "event_staging", world.org):
        await _fails(WRITES["create user"](world), grpc.StatusCode.INTERNAL)
    assert await db_pool.fetchval(position, world.org) == start
    await WRITES["create user"](world)
    seqs = [
        r["seq"]
        for r in await db_pool.fetch(
            "SELECT seq FROM events WHERE org_id = $1 ORDER BY seq", world.org
        )
    ]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_the_fault_trigger_is_scoped_to_its_org(world, prov, db_pool):
    other = new_org_id()
    await world.admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=other, name="O", admin_email=ADMIN)
    )
    async with failing_rows(db_pool, "event_staging", world.org):
        await new_user(prov, other, "elsewhere@x.test")
    assert "user.created" in await events_of(db_pool, other)
    triggers = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'test_fault_%'"
    assert await db_pool.fetchval(triggers) == 0
