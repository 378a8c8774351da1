"""The Directory service for GraphOS services, over real gRPC and Postgres."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.identity_svc.member_support import new_group, new_user, set_active, set_rule
from tests.identity_svc.support import OPERATOR, eq, new_org_id

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def other_org(admin) -> str:
    org_id = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=org_id, name="Other", admin_email="o@y.test")
    )
    return org_id


async def test_get_member_by_id_user_name_or_email(prov, admin, directory, org):
    user = await new_user(
        prov, org, "Ada@X.test", emails=[{"value": "Ada.L@X.test", "primary": True}]
    )
    group = await new_group(prov, org, "Graph", user)
    await set_rule(admin, org, "GRAPH_ADMIN", group_id=group)
    keys: list[dict[str, str]] = [
        {"user_id": user},
        {"user_name": "ada@x.TEST"},
        {"email": "ADA.l@x.test"},
    ]
    for key in keys:
        member = await directory.GetMember(
            pb.GetMemberRequest(org_id=org, include_groups=True, **key)
        )
        assert member.user.id == user
        assert member.user.user_name == "Ada@X.test"
        assert (member.effective_role, member.suspended) == (pb.GRAPH_ADMIN, False)
        assert member.groups_included
        assert [(g.id, g.display_name) for g in member.groups] == [(group, "Graph")]
    without = await directory.GetMember(pb.GetMemberRequest(org_id=org, user_id=user))
    assert not without.groups_included


async def test_a_suspended_member_is_marked_and_has_no_role(prov, directory, org):
    user = await new_user(prov, org, "ada@x.test")
    await set_active(prov, org, user, False)
    member = await directory.GetMember(pb.GetMemberRequest(org_id=org, user_id=user))
    assert (member.suspended, member.effective_role, member.user.active) == (
        True,
        pb.ROLE_UNSPECIFIED,
        False,
    )


@pytest.mark.parametrize(
    "key",
    [
        {"user_id": MISSING},
        {"user_id": "not-a-uuid"},
        {"user_name": "nobody@x.test"},
        {"email": "nobody@x.test"},
    ],
)
async def test_unknown_members_are_not_found(directory, org, key):
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await directory.GetMember(pb.GetMemberRequest(org_id=org, **key))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_get_member_needs_a_key(directory, org):
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await directory.GetMember(pb.GetMemberRequest(org_id=org))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_never_another_orgs_member(prov, directory, org, other_org):
    foreign = await new_user(prov, other_org, "eve@y.test")
    foreign_group = await new_group(prov, other_org, "Theirs", foreign)
    for field, key in (("user_id", foreign), ("user_name", "eve@y.test"), ("email", "eve@y.test")):
        request = pb.GetMemberRequest(org_id=org)
        setattr(request, field, key)
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await directory.GetMember(request)
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    batch = await directory.BatchGetMembers(
        pb.BatchGetMembersRequest(org_id=org, user_ids=[foreign])
    )
    assert (list(batch.members), list(batch.not_found)) == ([], [foreign])
    listed = await directory.ListMembers(pb.ListMembersRequest(org_id=org, group_id=foreign_group))
    assert (listed.total_results, list(listed.members)) == (0, [])
    for call in (
        directory.ListMemberGroups(pb.ListUserGroupsRequest(org_id=org, user_id=foreign)),
        directory.GetEffectiveRole(pb.GetEffectiveRoleRequest(org_id=org, user_id=foreign)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await call
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_batch_get_keeps_request_order_and_lists_the_missing(prov, directory, org):
    a = await new_user(prov, org, "a@x.test")
    b = await new_user(prov, org, "b@x.test")
    batch = await directory.BatchGetMembers(
        pb.BatchGetMembersRequest(
            org_id=org, user_ids=[b, MISSING, a, "junk", b], include_groups=True
        )
    )
    assert [m.user.id for m in batch.members] == [b, a]
    assert all(m.groups_included for m in batch.members)
    assert list(batch.not_found) == [MISSING, "junk"]


async def test_batch_get_is_bounded(directory, org):
    ids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(201)]
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await directory.BatchGetMembers(pb.BatchGetMembersRequest(org_id=org, user_ids=ids))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_list_members_pages_filters_and_restricts_to_a_group(prov, directory, org):
    ids = [await new_user(prov, org, f"m{i}@x.test") for i in range(5)]
    group = await new_group(prov, org, "Some", ids[1], ids[3], ids[4])
    everyone = await directory.ListMembers(pb.ListMembersRequest(org_id=org))
    assert everyone.total_results == 6  # with the org's admin

    first = await directory.ListMembers(
        pb.ListMembersRequest(
            org_id=org, group_id=group, page=pb.Page(cursor=pb.CursorPage(count=2))
        )
    )
    rest = await directory.ListMembers(
        pb.ListMembersRequest(
            org_id=org,
            group_id=group,
            page=pb.Page(cursor=pb.CursorPage(cursor=first.next_cursor, count=2)),
        )
    )
    assert first.total_results == 3
    assert [m.user.id for m in (*first.members, *rest.members)] == [ids[1], ids[3], ids[4]]
    assert rest.next_cursor == ""

    filtered = await directory.ListMembers(
        pb.ListMembersRequest(
            org_id=org, group_id=group, filter=eq("userName", "M3@x.test"), include_groups=True
        )
    )
    assert [m.user.id for m in filtered.members] == [ids[3]]
    assert [g.id for g in filtered.members[0].groups] == [group]


@pytest.mark.parametrize("group_id", [MISSING, "not-a-uuid"])
async def test_list_members_of_an_unknown_group_is_empty(directory, org, group_id):
    listed = await directory.ListMembers(pb.ListMembersRequest(org_id=org, group_id=group_id))
    assert (listed.total_results, list(listed.members)) == (0, [])


async def test_list_members_rejects_an_unknown_filter_attribute(directory, org):
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await directory.ListMembers(pb.ListMembersRequest(org_id=org, filter=eq("shoeSize", 9)))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_list_member_groups(prov, directory, org):
    user = await new_user(prov, org, "ada@x.test")
    b = await new_group(prov, org, "Beta", user)
    a = await new_group(prov, org, "Alpha", user)
    await new_group(prov, org, "Other")
    groups = await directory.ListMemberGroups(pb.ListUserGroupsRequest(org_id=org, user_id=user))
    assert [(g.id, g.display_name) for g in groups.groups] == [(a, "Alpha"), (b, "Beta")]


async def test_effective_role_reports_the_direct_role(admin, directory, org):
    member = await directory.GetMember(pb.GetMemberRequest(org_id=org, email="admin@x.test"))
    role = await directory.GetEffectiveRole(
        pb.GetEffectiveRoleRequest(org_id=org, user_id=member.user.id)
    )
    assert (role.role, role.direct_role, role.suspended) == (pb.ORG_ADMIN, pb.ORG_ADMIN, False)


async def test_the_directory_requires_a_credential(identity_server, org):
    async with grpc.aio.insecure_channel(identity_server.address) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await pb_grpc.DirectoryStub(channel).GetMember(
                pb.GetMemberRequest(org_id=org, user_name="admin@x.test")
            )
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_the_operator_may_use_the_directory(operator_channel, org):
    member = await pb_grpc.DirectoryStub(operator_channel).GetMember(
        pb.GetMemberRequest(org_id=org, user_name="admin@x.test")
    )
    assert member.effective_role == pb.ORG_ADMIN


async def test_the_directory_reports_healthy(identity_server):
    async with grpc.aio.insecure_channel(identity_server.address) as channel:
        answer = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="identity_api.v1.Directory")
        )
    assert answer.status == health_pb2.HealthCheckResponse.SERVING
