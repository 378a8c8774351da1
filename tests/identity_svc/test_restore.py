"""The restore window (issue 10) over real gRPC and Postgres: delete, list, restore.

A SCIM DELETE removes the member from SCIM at once and keeps a copy; an Org
Admin restores it as it was. The purge is in test_purge.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import grpc
import pytest
from google.protobuf import json_format

from identity_api.v1 import identity_pb2 as pb
from tests.identity_svc.member_support import new_group, new_user, role_of, set_rule
from tests.identity_svc.support import GATEWAY, OPERATOR, error_reason, struct, user_doc

ADMIN_CONTEXT = pb.RequestContext(actor=pb.Actor(admin_email="admin@x.test"))


async def delete(prov, org: str, user_id: str) -> None:
    await prov.DeleteUser(pb.DeleteUserRequest(context=GATEWAY, org_id=org, user_id=user_id))


async def restore(admin, org: str, user_name: str, context=ADMIN_CONTEXT):
    return await admin.RestoreMember(
        pb.RestoreMemberRequest(context=context, org_id=org, user_name=user_name)
    )


async def deleted(admin, org: str, context=ADMIN_CONTEXT, **page) -> pb.ListDeletedMembersResponse:
    return await admin.ListDeletedMembers(
        pb.ListDeletedMembersRequest(context=context, org_id=org, **page)
    )


async def refused(call) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    return failed.value


async def backdate(db_pool, org: str, user_id: str, age: timedelta) -> None:
    await db_pool.execute(
        "UPDATE deleted_users SET deleted_at = now() - $3::interval"
        " WHERE org_id = $1 AND id = $2::uuid",
        org,
        user_id,
        age,
    )


async def test_a_deleted_member_is_gone_from_scim_and_kept_with_its_groups(prov, org, db_pool):
    user = await new_user(prov, org, "ada@x.test", title="Countess")
    eng = await new_group(prov, org, "Eng", user)
    docs = await new_group(prov, org, "Docs", user)
    stored = await db_pool.fetchrow(
        "SELECT document, version, created FROM users WHERE org_id = $1 AND id = $2::uuid",
        org,
        user,
    )

    await delete(prov, org, user)

    gone = await refused(prov.GetUser(pb.GetUserRequest(org_id=org, user_id=user)))
    assert gone.code() is grpc.StatusCode.NOT_FOUND
    group = await prov.GetGroup(pb.GetGroupRequest(org_id=org, group_id=eng))
    assert group.member_count == 0
    kept = await db_pool.fetchrow(
        "SELECT user_name, document, version, created, group_ids::text[] AS groups, deleted_by"
        " FROM deleted_users WHERE org_id = $1 AND id = $2::uuid",
        org,
        user,
    )
    assert kept is not None
    assert (kept["user_name"], kept["document"], kept["version"], kept["created"]) == (
        "ada@x.test",
        stored["document"],
        stored["version"],
        stored["created"],
    )
    assert sorted(kept["groups"]) == sorted([eng, docs])
    assert kept["deleted_by"] == "scim_key:test-key"


async def test_a_restored_member_is_back_as_it_was(prov, admin, directory, org, db_pool):
    user = await new_user(prov, org, "ada@x.test", title="Countess")
    eng = await new_group(prov, org, "Eng", user)
    docs = await new_group(prov, org, "Docs", user)
    gone = await new_group(prov, org, "Gone", user)
    await set_rule(admin, org, "GRAPH_ADMIN", group_id=eng)
    before = await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=user, include_groups=True))
    eng_before = await prov.GetGroup(pb.GetGroupRequest(org_id=org, group_id=eng))
    assert await role_of(directory, org, user) == "GRAPH_ADMIN"

    await delete(prov, org, user)
    await prov.DeleteGroup(pb.DeleteGroupRequest(context=GATEWAY, org_id=org, group_id=gone))
    no_role = await refused(
        directory.GetEffectiveRole(pb.GetEffectiveRoleRequest(org_id=org, user_id=user))
    )
    assert no_role.code() is grpc.StatusCode.NOT_FOUND
    seq = await db_pool.fetchval("SELECT max(seq) FROM events WHERE org_id = $1", org)

    restored = await restore(admin, org, "ADA@x.test")

    again = await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=user, include_groups=True))
    assert restored.user.id == again.id == user
    assert json_format.MessageToDict(again.attributes) == json_format.MessageToDict(
        before.attributes
    )
    assert again.meta.created == before.meta.created
    # Its ETag goes on from the deleted one's, never back to one a client held.
    assert again.meta.version > before.meta.version
    assert sorted(g.id for g in again.groups) == sorted([eng, docs])
    assert list(restored.missing_group_ids) == [gone]
    assert await role_of(directory, org, user) == "GRAPH_ADMIN"
    eng_after = await prov.GetGroup(pb.GetGroupRequest(org_id=org, group_id=eng))
    assert eng_after.member_count == 1
    assert eng_after.meta.version > eng_before.meta.version + 1  # out at delete, in at restore
    rows = await db_pool.fetch(
        "SELECT type, resource_id, data, actor FROM events WHERE org_id = $1 AND seq > $2"
        " ORDER BY seq",
        org,
        seq,
    )
    assert {r["actor"] for r in rows} == {"admin:admin@x.test"}
    assert [r["type"] for r in rows if r["type"] != "user.role_changed"] == [
        "user.restored",
        "group.member_added",
        "group.member_added",
    ]
    assert rows[0]["resource_id"] == user
    added = {r["resource_id"] for r in rows if r["type"] == "group.member_added"}
    assert added == {eng, docs}
    assert [(r["data"]["to"]) for r in rows if r["type"] == "user.role_changed"][-1] == (
        "GRAPH_ADMIN"
    )
    assert list((await deleted(admin, org)).members) == []  # restored: no longer restorable


async def test_a_new_member_may_take_the_user_name_and_then_blocks_the_restore(prov, admin, org):
    first = await new_user(prov, org, "ada@x.test")
    await delete(prov, org, first)
    newer = await prov.CreateUser(
        pb.CreateUserRequest(context=GATEWAY, org_id=org, attributes=struct(user_doc("ada@x.test")))
    )
    assert newer.id != first

    taken = await refused(restore(admin, org, "ada@x.test"))
    assert taken.code() is grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(taken) == "UNIQUENESS"
    assert "free it first" in (taken.details() or "")
    # Nothing changed: the newer member stays, the deleted one stays restorable.
    still = await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=newer.id))
    assert still.user_name == "ada@x.test"
    assert [m.id for m in (await deleted(admin, org)).members] == [first]

    # Two deleted with the name: the most recent comes back.
    await delete(prov, org, newer.id)
    assert (await restore(admin, org, "ada@x.test")).user.id == newer.id
    assert [m.id for m in (await deleted(admin, org)).members] == [first]


async def test_restore_refuses_unknown_expired_and_non_admins(prov, admin, org, db_pool):
    user = await new_user(prov, org, "ada@x.test")
    await delete(prov, org, user)
    await new_user(prov, org, "bob@x.test")  # a member, not an Org Admin

    unknown = await refused(restore(admin, org, "nobody@x.test"))
    assert unknown.code() is grpc.StatusCode.NOT_FOUND
    bob = pb.RequestContext(actor=pb.Actor(admin_email="bob@x.test"))
    denied = await refused(restore(admin, org, "ada@x.test", context=bob))
    assert denied.code() is grpc.StatusCode.PERMISSION_DENIED
    assert (await refused(deleted(admin, org, context=bob))).code() is (
        grpc.StatusCode.PERMISSION_DENIED
    )
    no_org = await refused(restore(admin, "org-none", "ada@x.test", context=OPERATOR))
    assert no_org.code() is grpc.StatusCode.NOT_FOUND

    await backdate(db_pool, org, user, timedelta(days=31))  # past the window, not purged yet
    expired = await refused(restore(admin, org, "ada@x.test"))
    assert expired.code() is grpc.StatusCode.NOT_FOUND
    assert list((await deleted(admin, org)).members) == []


async def test_a_deleted_org_admin_loses_access(prov, admin, org):
    user = await new_user(prov, org, "eve@x.test")
    admins = await new_group(prov, org, "Admins", user)
    await set_rule(admin, org, "ORG_ADMIN", group_id=admins)
    eve = pb.RequestContext(actor=pb.Actor(admin_email="eve@x.test"))
    assert list((await deleted(admin, org, context=eve)).members) == []

    await delete(prov, org, user)
    denied = await refused(deleted(admin, org, context=eve))
    assert denied.code() is grpc.StatusCode.PERMISSION_DENIED

    await restore(admin, org, "eve@x.test", context=OPERATOR)
    assert list((await deleted(admin, org, context=eve)).members) == []


async def test_the_list_is_newest_first_in_bounded_pages(prov, admin, org):
    ids = [await new_user(prov, org, f"u{i}@x.test") for i in range(3)]
    for user in ids:
        await delete(prov, org, user)

    first = await deleted(admin, org, page_size=2)
    assert [m.user_name for m in first.members] == ["u2@x.test", "u1@x.test"]
    assert first.next_page_token
    second = await deleted(admin, org, page_size=2, page_token=first.next_page_token)
    assert [m.id for m in second.members] == [ids[0]]
    assert second.next_page_token == ""
    member = second.members[0]
    assert member.deleted_by == "scim_key:test-key"
    until = member.restorable_until.ToDatetime() - member.deleted_at.ToDatetime()
    assert until == timedelta(days=30)

    for token in (
        "not-a-token",
        "a_b",
        f"2026-01-01_{ids[0]}_x",
        f"2026-01-01T00:00:00_{ids[0]}",  # no offset: not one of ours
        f"0001-01-01T00:00:00+14:00_{ids[0]}",  # before any time Postgres holds
    ):
        bad = await refused(deleted(admin, org, page_token=token))
        assert bad.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert error_reason(bad) == "INVALID_CURSOR"
    negative = await refused(deleted(admin, org, page_size=-1))
    assert negative.code() is grpc.StatusCode.INVALID_ARGUMENT


async def test_a_delete_the_brake_refuses_keeps_no_copy(prov, admin, org):
    await admin.SetDeprovisioningBrake(
        pb.SetDeprovisioningBrakeRequest(
            context=ADMIN_CONTEXT, org_id=org, floor=0, share_percent=0
        )
    )
    user = await new_user(prov, org, "ada@x.test")

    await refused(delete(prov, org, user))  # a budget of 0 trips at the first deletion

    assert (await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=user))).id == user
    assert list((await deleted(admin, org)).members) == []


async def test_two_restores_at_once_bring_the_member_back_once(prov, admin, org, db_pool):
    user = await new_user(prov, org, "ada@x.test")
    await new_group(prov, org, "Eng", user)
    await delete(prov, org, user)

    results = await asyncio.gather(
        restore(admin, org, "ada@x.test"), restore(admin, org, "ada@x.test"), return_exceptions=True
    )

    restored = [r for r in results if isinstance(r, pb.RestoreMemberResponse)]
    failed = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert [r.user.id for r in restored] == [user]
    assert [f.code() for f in failed] == [grpc.StatusCode.NOT_FOUND]
    counts = await db_pool.fetch(
        "SELECT type, count(*) AS n FROM events WHERE org_id = $1"
        " AND type IN ('user.restored', 'group.member_added') GROUP BY type ORDER BY type",
        org,
    )
    # The group's first add (at its creation) and the restore's.
    assert [(r["type"], r["n"]) for r in counts] == [
        ("group.member_added", 2),
        ("user.restored", 1),
    ]
