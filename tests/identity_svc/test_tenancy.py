"""A filter never escapes its org (SPEC §3), through the real listing RPCs.

See tests/identity_svc/tenancy.py: A, B and C hold the same directory; B
reuses A's ids for other rows, C has ids of its own. Every generated filter
must return, in each org, only that org's rows, and the same rows (by slot) in
all three: a filter or a listing that loses its org scope shows B's rows in
A's answers, or answers differently in A than in C.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterator

import grpc
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.scim.filter import parse_patch_path
from identity_api.v1 import identity_pb2 as pb
from tests.identity_svc.support import GATEWAY, error_reason
from tests.identity_svc.tenancy import (
    GROUP_SLOTS,
    Cmp,
    Junction,
    Node,
    Not,
    Org,
    Ref,
    World,
    build_world,
    group_filters,
    render,
    to_proto,
    user_filters,
)

EVERYTHING = pb.Page(index=pb.IndexPage(start_index=1, count=200))
ALL_MEMBERS = pb.MemberInclusion(include=True, max_members=1000)
# Renders a filter with slot names in place of ids, for test ids.
SLOTS = Org("slots", {})
NO_WORLD = World(SLOTS, SLOTS, SLOTS, {})
EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# What one org answered: slots of the rows, each with the slots it relates to.
Answer = frozenset[tuple[str, frozenset[str]]]


@pytest.fixture
async def world(admin, prov, db_pool) -> World:
    return await build_world(admin, prov, db_pool)


class Tally:
    """How the examples went; checked once all of them ran."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def check(self) -> None:
        ran, total = self.counts["ran"], self.counts["ran"] + self.counts["refused"]
        # Most filters must reach SQL, and most must match rows in B, or a leak
        # from B would go unseen.
        assert ran >= 0.8 * total, self.counts
        assert self.counts["matched"] >= 0.5 * ran, self.counts
        assert self.counts["top-level or"], self.counts
        assert self.counts["top-level not"], self.counts


@pytest.fixture
def tally() -> Iterator[Tally]:
    result = Tally()
    yield result
    result.check()


def _own(org: Org, rows: list[tuple[str, str, list[str]]]) -> Answer:
    """Map ids back to slots; each row must be the org's, and each related id too."""
    answer = set()
    for row_org, row_id, related in rows:
        assert row_org == org.org_id, f"{row_id} of {row_org} listed for {org.org_id}"
        assert row_id in org.slots, f"{row_id} is no row of {org.org_id}"
        assert set(related) <= org.slots.keys(), f"{related} outside {org.org_id}"
        answer.add((org.slots[row_id], frozenset(org.slots[r] for r in related)))
    return frozenset(answer)


def _refusal(exc: grpc.aio.AioRpcError) -> str:
    if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
        return f"{exc.code().name}: {exc.details()}"
    return f"{exc.code().name} {error_reason(exc)}"


Lister = Callable[[Org, pb.Filter], Awaitable[list[tuple[str, str, list[str]]]]]


async def _same_everywhere(world: World, node: Node, tally: Tally, listing: Lister) -> None:
    top = node.glue if isinstance(node, Junction) else type(node).__name__.lower()
    event(f"top-level {top}")
    tally.counts[f"top-level {top}"] += 1
    answers: dict[str, Answer] = {}
    refusals: dict[str, str] = {}
    for org in world.orgs:
        try:
            answers[org.org_id] = _own(org, await listing(org, to_proto(node, org, world)))
        except grpc.aio.AioRpcError as exc:
            refusals[org.org_id] = _refusal(exc)
    if refusals:
        tally.counts["refused"] += 1
        event("refused")
        # A refusal is about the filter, never the org: all three refuse alike.
        assert list(refusals.values()) == ["INVALID_ARGUMENT INVALID_FILTER"] * 3, refusals
        return
    tally.counts["ran"] += 1
    a, b, c = (answers[org.org_id] for org in world.orgs)
    tally.counts["matched"] += bool(b)
    event("matched in B" if b else "matched nothing")
    assert a == b == c, render(node, world.a, world)


# ---------------------------------------------------------------- listings


@EXAMPLES
@given(node=user_filters())
async def test_list_users_answers_each_org_from_its_own_rows(prov, world, tally, node):
    async def listing(org: Org, expr: pb.Filter) -> list[tuple[str, str, list[str]]]:
        request = pb.ListUsersRequest(
            org_id=org.org_id, filter=expr, page=EVERYTHING, include_groups=True
        )
        found = await prov.ListUsers(request)
        assert found.total_results == len(found.users)
        return [(u.org_id, u.id, [g.id for g in u.groups]) for u in found.users]

    await _same_everywhere(world, node, tally, listing)


@EXAMPLES
@given(node=group_filters())
async def test_list_groups_answers_each_org_from_its_own_rows(prov, world, tally, node):
    async def listing(org: Org, expr: pb.Filter) -> list[tuple[str, str, list[str]]]:
        request = pb.ListGroupsRequest(
            org_id=org.org_id, filter=expr, page=EVERYTHING, members=ALL_MEMBERS
        )
        found = await prov.ListGroups(request)
        assert found.total_results == len(found.groups)
        return [(g.org_id, g.id, [m.user_id for m in g.members]) for g in found.groups]

    await _same_everywhere(world, node, tally, listing)


@EXAMPLES
@given(node=user_filters(), group=st.sampled_from((None, *GROUP_SLOTS)))
async def test_directory_lists_each_orgs_own_members(directory, world, tally, node, group):
    async def listing(org: Org, expr: pb.Filter) -> list[tuple[str, str, list[str]]]:
        request = pb.ListMembersRequest(
            org_id=org.org_id, filter=expr, page=EVERYTHING, include_groups=True
        )
        if group is not None:
            request.group_id = org.ids[group]
        found = await directory.ListMembers(request)
        assert found.total_results == len(found.members)
        return [(m.user.org_id, m.user.id, [g.id for g in m.groups]) for m in found.members]

    await _same_everywhere(world, node, tally, listing)


# ---------------------------------------------------------------- PATCH members[filter]


async def _memberships(prov, org: Org) -> dict[str, frozenset[str]]:
    found = await prov.ListGroups(
        pb.ListGroupsRequest(org_id=org.org_id, page=EVERYTHING, members=ALL_MEMBERS)
    )
    return dict(_own(org, [(g.org_id, g.id, [m.user_id for m in g.members]) for g in found.groups]))


# Each filter, and which of G0's members (U1, U2 "Bob", U4) it leaves.
REMOVALS: list[tuple[Node, set[str]]] = [
    (Cmp("value", "eq", Ref("U4")), {"U1", "U2"}),
    # Matches no member of A's G0, but one of B's group that has G0's id.
    (Cmp("display", "co", "erin"), {"U1", "U2", "U4"}),
    (Junction("or", (Cmp("value", "eq", Ref("U1")), Cmp("display", "sw", "BO"))), {"U4"}),
    (Not(Cmp("value", "eq", Ref("U1", upper=True))), {"U1"}),
    (Cmp("type", "eq", "User"), set()),
]


@pytest.mark.parametrize(
    ("member_filter", "left"), REMOVALS, ids=[render(n, SLOTS, NO_WORLD) for n, _ in REMOVALS]
)
async def test_removing_members_by_filter_touches_one_group_of_one_org(
    prov, world, member_filter, left
):
    before = {org.org_id: await _memberships(prov, org) for org in world.orgs}
    for org in (world.a, world.c):
        path = parse_patch_path(f"members[{render(member_filter, org, world)}]")
        await prov.PatchGroup(
            pb.PatchGroupRequest(
                context=GATEWAY,
                org_id=org.org_id,
                group_id=org.ids["G0"],
                operations=[pb.PatchOperation(op=pb.PatchOperation.REMOVE, path=path)],
            )
        )
    after = {org.org_id: await _memberships(prov, org) for org in world.orgs}
    a, b, c = (after[org.org_id] for org in world.orgs)
    assert b == before[world.b.org_id], "a PATCH in A removed members in B"
    assert a == c, "A's PATCH removed other members than the same PATCH in C"
    assert a == {**before[world.a.org_id], "G0": frozenset(left)}
