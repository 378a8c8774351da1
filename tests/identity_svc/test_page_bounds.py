"""Out-of-range counts and start indexes on every paged RPC, over real gRPC.

A paged RPC answers a negative count, a count past the page size or a start
index outside 1..2^31-1 with a page or a clear INVALID_ARGUMENT, never
INTERNAL. Page-shaped RPCs read them as RFC 7644 §3.4.2.4 does (a negative
count is 0, a start index below 1 is 1, a count is capped at the page size);
ListGroupMembers, whose count 0 means "the server's page size", refuses a
negative one.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from tests.identity_svc.support import GATEWAY, error_reason, struct, user_doc

INT32_MAX = 2**31 - 1
# The session's identity service (tests/conftest.py) pages at most this many.
MAX_PAGE_SIZE = 200

# Each returns (total_results, number of resources) of one paged call.


async def _list_users(prov: Any, directory: Any, org: str, page: pb.Page) -> tuple[int, int]:
    response = await prov.ListUsers(pb.ListUsersRequest(org_id=org, page=page))
    return response.total_results, len(response.users)


async def _stream_users(prov: Any, directory: Any, org: str, page: pb.Page) -> tuple[int, int]:
    chunks = [c async for c in prov.StreamUsers(pb.ListUsersRequest(org_id=org, page=page))]
    return chunks[0].head.total_results, sum(len(c.users) for c in chunks)


async def _list_groups(prov: Any, directory: Any, org: str, page: pb.Page) -> tuple[int, int]:
    response = await prov.ListGroups(pb.ListGroupsRequest(org_id=org, page=page))
    return response.total_results, len(response.groups)


async def _stream_groups(prov: Any, directory: Any, org: str, page: pb.Page) -> tuple[int, int]:
    chunks = [c async for c in prov.StreamGroups(pb.ListGroupsRequest(org_id=org, page=page))]
    return chunks[0].head.total_results, sum(len(c.groups) for c in chunks)


async def _list_members(prov: Any, directory: Any, org: str, page: pb.Page) -> tuple[int, int]:
    response = await directory.ListMembers(pb.ListMembersRequest(org_id=org, page=page))
    return response.total_results, len(response.members)


PAGED = {
    "ListUsers": _list_users,
    "StreamUsers": _stream_users,
    "ListGroups": _list_groups,
    "StreamGroups": _stream_groups,
    "ListMembers": _list_members,
}

# (page, how many of the org's resources it returns: None for all of them)
PAGES = {
    "index count -5": (pb.Page(index=pb.IndexPage(start_index=1, count=-5)), 0),
    "index count 2^31-1": (pb.Page(index=pb.IndexPage(start_index=1, count=INT32_MAX)), None),
    "index count -2^31": (pb.Page(index=pb.IndexPage(start_index=1, count=-(2**31))), 0),
    "startIndex -5": (pb.Page(index=pb.IndexPage(start_index=-5, count=2)), 2),
    "startIndex 2^31-1": (pb.Page(index=pb.IndexPage(start_index=INT32_MAX, count=2)), 0),
    "cursor count -5": (pb.Page(cursor=pb.CursorPage(count=-5)), 0),
    "cursor count 2^31-1": (pb.Page(cursor=pb.CursorPage(count=INT32_MAX)), None),
}


@pytest.fixture
async def filled_org(prov, org) -> str:
    """The org with 3 members (its admin and two users) and 3 groups."""
    for i in range(2):
        await prov.CreateUser(
            pb.CreateUserRequest(
                context=GATEWAY, org_id=org, attributes=struct(user_doc(f"b{i}@x.test"))
            )
        )
    for i in range(3):
        await prov.CreateGroup(
            pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name=f"G{i}")
        )
    return org


@pytest.mark.parametrize("page_name", PAGES)
@pytest.mark.parametrize("rpc", PAGED)
async def test_out_of_range_pages_are_read_as_rfc_7644_says(
    prov, directory, filled_org, rpc, page_name
):
    page, returned = PAGES[page_name]
    total, items = await PAGED[rpc](prov, directory, filled_org, page)
    assert total == 3
    assert items == (total if returned is None else returned)


async def test_a_count_past_the_page_size_is_capped(prov, org):
    for i in range(MAX_PAGE_SIZE):
        await prov.CreateGroup(
            pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name=f"G{i}")
        )
    listed = await prov.ListGroups(
        pb.ListGroupsRequest(org_id=org, page=pb.Page(index=pb.IndexPage(count=INT32_MAX)))
    )
    assert (listed.total_results, len(listed.groups)) == (MAX_PAGE_SIZE, MAX_PAGE_SIZE)


async def _group_with_members(prov, org: str) -> str:
    ids = []
    for i in range(3):
        user = await prov.CreateUser(
            pb.CreateUserRequest(
                context=GATEWAY, org_id=org, attributes=struct(user_doc(f"m{i}@x.test"))
            )
        )
        ids.append(user.id)
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="G", member_ids=ids)
    )
    return group.id


@pytest.mark.parametrize("count", [-5, -(2**31)])
async def test_list_group_members_refuses_a_negative_count(prov, org, count):
    group_id = await _group_with_members(prov, org)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await prov.ListGroupMembers(
            pb.ListGroupMembersRequest(org_id=org, group_id=group_id, count=count)
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(refused.value) == "INVALID_VALUE"
    assert "count" in (refused.value.details() or "")


@pytest.mark.parametrize("count", [0, 1, MAX_PAGE_SIZE])
async def test_list_group_members_pages_with_a_count_in_range(prov, org, count):
    group_id = await _group_with_members(prov, org)
    seen: list[str] = []
    after = ""
    while True:
        page = await prov.ListGroupMembers(
            pb.ListGroupMembersRequest(
                org_id=org, group_id=group_id, count=count, after_user_id=after
            )
        )
        seen += [m.user_id for m in page.members]
        if not page.next_after_user_id:
            break
        after = page.next_after_user_id
    assert len(seen) == len(set(seen)) == 3


async def test_list_group_members_refuses_a_count_past_the_page_size(prov, org):
    group_id = await _group_with_members(prov, org)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await prov.ListGroupMembers(
            pb.ListGroupMembersRequest(org_id=org, group_id=group_id, count=INT32_MAX)
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(refused.value) == "TOO_MANY"
