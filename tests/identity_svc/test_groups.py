"""Groups and memberships over real gRPC and Postgres."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf import struct_pb2

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.db import groups as groups_db
from identity_svc.domain.models import Actor, WriteContext
from identity_svc.services import groups as group_service
from tests.identity_svc.support import (
    GATEWAY,
    OPERATOR,
    all_of,
    eq,
    error_reason,
    new_org_id,
    path,
    struct,
    user_doc,
    value,
)
from tests.identity_svc.test_plans import CASES as PLANNED
from tests.query_log import QueryLog

ADD, REMOVE, REPLACE = pb.PatchOperation.ADD, pb.PatchOperation.REMOVE, pb.PatchOperation.REPLACE
ALL_MEMBERS = pb.MemberInclusion(include=True, max_members=1000)


async def users(prov, org: str, count: int, prefix: str = "u") -> list[str]:
    ids = []
    for i in range(count):
        user = await prov.CreateUser(
            pb.CreateUserRequest(
                context=GATEWAY,
                org_id=org,
                attributes=struct(
                    user_doc(f"{prefix}{i}@x.test", displayName=f"{prefix.upper()} {i}")
                ),
            )
        )
        ids.append(user.id)
    return ids


async def patch(prov, org, group_id, *operations, members=ALL_MEMBERS) -> pb.Group:
    return await prov.PatchGroup(
        pb.PatchGroupRequest(
            context=GATEWAY,
            org_id=org,
            group_id=group_id,
            operations=list(operations),
            members=members,
        )
    )


def members_value(*ids: str) -> struct_pb2.Value:
    return value([{"value": i} for i in ids])


async def test_create_with_members_then_get(prov, org):
    ids = await users(prov, org, 3)
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(
            context=GATEWAY, org_id=org, display_name="Eng", member_ids=ids, members=ALL_MEMBERS
        )
    )
    assert group.member_count == 3
    assert sorted(m.user_id for m in group.members) == sorted(ids)
    assert {m.display for m in group.members} == {"U 0", "U 1", "U 2"}
    lean = await prov.GetGroup(pb.GetGroupRequest(org_id=org, group_id=group.id))
    assert not lean.members_included
    assert not lean.members
    assert lean.member_count == 3


async def test_members_are_left_out_above_the_inline_limit(prov, org):
    ids = await users(prov, org, 3)
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G", member_ids=ids)
    )
    got = await prov.GetGroup(
        pb.GetGroupRequest(
            org_id=org, group_id=group.id, members=pb.MemberInclusion(include=True, max_members=2)
        )
    )
    assert not got.members_included
    assert got.member_count == 3
    first = await prov.ListGroupMembers(
        pb.ListGroupMembersRequest(org_id=org, group_id=group.id, count=2)
    )
    rest = await prov.ListGroupMembers(
        pb.ListGroupMembersRequest(
            org_id=org, group_id=group.id, count=2, after_user_id=first.next_after_user_id
        )
    )
    assert sorted(m.user_id for m in [*first.members, *rest.members]) == sorted(ids)
    assert rest.next_after_user_id == ""


async def test_unknown_member_ids_are_named_and_nothing_is_applied(prov, org):
    ids = await users(prov, org, 1)
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G")
    )
    stranger = "5f0c3f9e-0000-4000-8000-000000000000"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await patch(
            prov,
            org,
            group.id,
            pb.PatchOperation(op=REPLACE, path=path("displayName"), value=value("Renamed")),
            pb.PatchOperation(
                op=ADD, path=path("members"), value=members_value(ids[0], stranger, "junk")
            ),
        )
    assert error_reason(caught.value) == "INVALID_VALUE"
    assert stranger in str(caught.value.details())
    assert "junk" in str(caught.value.details())
    after = await prov.GetGroup(pb.GetGroupRequest(org_id=org, group_id=group.id))
    assert (after.display_name, after.member_count, after.meta.version) == ("G", 0, 1)


async def test_members_of_another_org_are_unknown(prov, org, operator_channel):
    other = new_org_id()
    await pb_grpc.OrgAdminStub(operator_channel).CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=other, name="O", admin_email="a@o.test")
    )
    foreign = await users(prov, other, 1)
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G")
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await patch(
            prov,
            org,
            group.id,
            pb.PatchOperation(op=ADD, path=path("members"), value=members_value(*foreign)),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_re_adding_and_removing_absent_members_are_no_ops(prov, org, db_pool):
    ids = await users(prov, org, 2)
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G", member_ids=[ids[0]])
    )
    events = await db_pool.fetchval("SELECT count(*) FROM events WHERE org_id = $1", org)
    again = await patch(
        prov,
        org,
        group.id,
        pb.PatchOperation(op=ADD, path=path("members"), value=members_value(ids[0])),
        pb.PatchOperation(op=REMOVE, path=path("members", value_filter=eq("value", ids[1]))),
        pb.PatchOperation(
            op=REPLACE, value=value({"id": group.id, "displayName": "G"})
        ),  # Okta resends it
    )
    assert (again.meta.version, again.member_count) == (group.meta.version, 1)
    assert await db_pool.fetchval("SELECT count(*) FROM events WHERE org_id = $1", org) == events


async def test_okta_and_entra_member_changes(prov, org):
    a, b, c = await users(prov, org, 3)
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G")
    )
    group = await patch(
        prov,
        org,
        group.id,
        pb.PatchOperation(op=ADD, path=path("members"), value=members_value(a, b, c)),
    )
    assert group.member_count == 3
    # Okta: remove members[value eq "id"]
    group = await patch(
        prov,
        org,
        group.id,
        pb.PatchOperation(op=REMOVE, path=path("members", value_filter=eq("value", a))),
    )
    # Entra: {"op":"Remove","path":"members","value":[{"value":id}]} removes only those.
    group = await patch(
        prov,
        org,
        group.id,
        pb.PatchOperation(op=REMOVE, path=path("members"), value=members_value(b)),
    )
    assert [m.user_id for m in group.members] == [c]
    assert group.member_count == 1


async def test_remove_members_by_a_display_filter(prov, org):
    a, b = await users(prov, org, 2, prefix="disp")
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G", member_ids=[a, b])
    )
    group = await patch(
        prov,
        org,
        group.id,
        pb.PatchOperation(op=REMOVE, path=path("members", value_filter=eq("display", "disp 1"))),
    )
    assert [m.user_id for m in group.members] == [a]


async def test_replace_members_and_rename(prov, org, db_pool):
    a, b, c = await users(prov, org, 3)
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G", member_ids=[a, b])
    )
    replaced = await prov.ReplaceGroup(
        pb.ReplaceGroupRequest(
            context=GATEWAY,
            org_id=org,
            group_id=group.id,
            display_name="H",
            member_ids=[b, c],
            members=ALL_MEMBERS,
        )
    )
    assert sorted(m.user_id for m in replaced.members) == sorted([b, c])
    assert (replaced.display_name, replaced.member_count, replaced.meta.version) == ("H", 2, 2)
    kinds = await db_pool.fetch(
        "SELECT type FROM events WHERE org_id = $1 AND resource_id = $2 ORDER BY seq", org, group.id
    )
    assert [k["type"] for k in kinds][-3:] == [
        "group.renamed",
        "group.member_added",
        "group.member_removed",
    ]


async def test_remove_without_path_has_no_target(prov, org):
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G")
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await patch(prov, org, group.id, pb.PatchOperation(op=REMOVE))
    assert error_reason(caught.value) == "NO_TARGET"


async def test_changing_the_id_is_a_mutability_error(prov, org):
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G")
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await patch(
            prov, org, group.id, pb.PatchOperation(op=REPLACE, value=value({"id": "other"}))
        )
    assert error_reason(caught.value) == "MUTABILITY"


async def test_delete_group(prov, org):
    ids = await users(prov, org, 1)
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G", member_ids=ids)
    )
    await prov.DeleteGroup(pb.DeleteGroupRequest(context=GATEWAY, org_id=org, group_id=group.id))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prov.GetGroup(pb.GetGroupRequest(org_id=org, group_id=group.id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    refs = await prov.ListUserGroups(pb.ListUserGroupsRequest(org_id=org, user_id=ids[0]))
    assert not refs.groups


async def test_filter_groups_by_member_like_entra(prov, org):
    a, b = await users(prov, org, 2)
    g1 = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G1", member_ids=[a])
    )
    await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G2", member_ids=[b])
    )
    both = all_of(eq("id", g1.id), eq("members", a))
    found = await prov.ListGroups(pb.ListGroupsRequest(org_id=org, filter=both))
    assert [g.id for g in found.groups] == [g1.id]
    none = all_of(eq("id", g1.id), eq("members", b))
    assert (await prov.ListGroups(pb.ListGroupsRequest(org_id=org, filter=none))).total_results == 0


async def test_fifty_concurrent_member_adds_all_land(prov, org, db_pool):
    ids = await users(prov, org, 50, prefix="c")
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="Race")
    )
    await asyncio.gather(
        *(
            patch(
                prov,
                org,
                group.id,
                pb.PatchOperation(op=ADD, path=path("members"), value=members_value(uid)),
                members=pb.MemberInclusion(),
            )
            for uid in ids
        )
    )
    after = await prov.GetGroup(pb.GetGroupRequest(org_id=org, group_id=group.id))
    assert after.member_count == 50
    assert after.meta.version == 51
    stored = await db_pool.fetchval(
        "SELECT count(*) FROM group_members WHERE group_id = $1::uuid", group.id
    )
    assert stored == 50


async def _group_of(db_pool, org: str, size: int) -> tuple[str, list[str]]:
    """A group of `size` members, and two users of the org who are not members."""
    async with db_pool.acquire() as conn:
        rows = await conn.fetch(
            "INSERT INTO users (org_id, id, user_name, document)"
            " SELECT $1, gen_random_uuid(), 'bulk' || i || '-' || $2, '{}'"
            " FROM generate_series(1, $2 + 2) i RETURNING id",
            org,
            size,
        )
    user_ids = [str(r["id"]) for r in rows]
    group = await group_service.create_group(
        db_pool, _CONTEXT, org, f"size-{size}", None, user_ids[:size], NO_MEMBERS
    )
    return group.id, user_ids[size:]


_CONTEXT = WriteContext(Actor("scim_key", "k"), "r")
NO_MEMBERS = group_service.MemberInclusion()


async def _statements(db_pool, org: str, group_id: str, operation: pb.PatchOperation) -> list[str]:
    """The statements one PATCH of the group runs, through the product's service."""
    log = QueryLog(db_pool)
    await group_service.patch_group(
        log.pool, _CONTEXT, org, group_id, [operation], None, NO_MEMBERS
    )
    return log.statements


async def test_member_changes_run_the_same_statements_whatever_the_group_size(db_pool, org):
    runs: dict[int, list[list[str]]] = {}
    for size in (5, 2000):
        group_id, (newcomer, _) = await _group_of(db_pool, org, size)
        adding = pb.PatchOperation(op=ADD, path=path("members"), value=members_value(newcomer))
        removing = pb.PatchOperation(
            op=REMOVE, path=path("members", value_filter=eq("value", newcomer))
        )
        runs[size] = [
            await _statements(db_pool, org, group_id, adding),
            await _statements(db_pool, org, group_id, removing),
        ]
        after = await group_service.get_group(db_pool, org, group_id, NO_MEMBERS)
        assert after.member_count == size  # the add and the remove both happened
    # The same statements, in the same order, for 5 or 2,000 members: nothing
    # the group's size could change (no per-member statement, no reload).
    assert runs[5] == runs[2000]
    add, remove = runs[2000]
    assert len(add) <= 12
    assert len(remove) <= 12
    ours = {q for q in vars(groups_db).values() if isinstance(q, str)}
    assert [q for q in add if q in ours] == [
        groups_db._LOCK_GROUP,
        groups_db._EXISTING_USERS,
        groups_db._ADD_MEMBERS,
        groups_db._UPDATE_GROUP,
    ]
    assert [q for q in remove if q in ours] == [
        groups_db._LOCK_GROUP,
        groups_db._REMOVE_MEMBERS,
        groups_db._UPDATE_GROUP,
    ]
    # ...and each of them is among those whose plans test_plans.py checks.
    explained = {statement for statement, _, _ in PLANNED.values()}
    assert {q for q in add + remove if q in ours} <= explained
