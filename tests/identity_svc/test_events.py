"""The change-event streams (SPEC §6) over real gRPC, Postgres and LISTEN/NOTIFY.

Nothing here asserts timing: each wait for a streamed event is bounded only so
a broken stream fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import random

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.events_hub import EventHub
from identity_svc.server import create_server
from identity_svc.services import event_streams
from identity_svc.settings import Settings as IdentitySettings
from tests.identity_svc.event_support import (
    ADMIN,
    WAIT_SECONDS,
    create_user,
    drain,
    new_org,
    position,
    seq_types,
    stored,
    stored_seqs,
    take_until_user,
)
from tests.identity_svc.support import GATEWAY, OPERATOR, path, struct, user_doc, value


async def test_replay_after_a_position_then_end(events, prov, org, db_pool):
    start = await position(db_pool, org)
    user = await create_user(prov, org, "a@x.test")
    await create_user(prov, org, "b@x.test")
    request = pb.WatchEventsRequest(org_id=org, after_seq=start - 1)
    replay = await drain(events.WatchEvents(request))
    assert seq_types(replay) == await stored(db_pool, org, start - 1)
    assert replay[0].seq == start
    created = [e for e in replay if e.type == "user.created"]
    assert [e.data["userName"] for e in created] == ["a@x.test", "b@x.test"]
    assert (created[0].resource_type, created[0].resource_id) == ("User", user.id)
    assert created[0].org_id == org
    assert created[0].HasField("occurred_at")


async def test_follow_delivers_live_events(events, prov, org, db_pool):
    start = await position(db_pool, org)
    call = events.WatchEvents(pb.WatchEventsRequest(org_id=org, after_seq=start, follow=True))
    await call.initial_metadata()  # subscribed: nothing committed from here on is missed
    user = await create_user(prov, org, "live@x.test", request_id="live-1")
    live = await take_until_user(call, "live@x.test")
    call.cancel()
    assert seq_types(live) == (await stored(db_pool, org, start))[: len(live)]
    assert (live[-1].type, live[-1].resource_id) == ("user.created", user.id)
    assert (live[-1].actor, live[-1].request_id) == ("scim_key:test-key", "live-1")


async def test_unknown_org_is_not_found(events):
    call = events.WatchEvents(pb.WatchEventsRequest(org_id="no-such-org", follow=True))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_streams_need_a_caller_credential(identity_server, org):
    async with grpc.aio.insecure_channel(identity_server.address) as anonymous:
        call = pb_grpc.EventsStub(anonymous).WatchEvents(pb.WatchEventsRequest(org_id=org))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _ctx(request_id: str, actor: pb.Actor = GATEWAY.actor) -> pb.RequestContext:
    return pb.RequestContext(actor=actor, request_id=request_id)


async def _user_writes(prov, org: str) -> str:
    user = await create_user(prov, org, "w@x.test", request_id="u-create")
    replace_active = pb.PatchOperation(op=pb.PatchOperation.REPLACE, value=value({"active": False}))
    await prov.PatchUser(
        pb.PatchUserRequest(
            context=_ctx("u-off"), org_id=org, user_id=user.id, operations=[replace_active]
        )
    )
    document = struct(user_doc("w@x.test", active=True, displayName="W"))
    await prov.ReplaceUser(
        pb.ReplaceUserRequest(
            context=_ctx("u-on"), org_id=org, user_id=user.id, attributes=document
        )
    )
    return user.id


async def _group_writes(prov, org: str, user_id: str) -> None:
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=_ctx("g-create"), org_id=org, display_name="Eng")
    )
    for request_id, op, operation_value, attribute in [
        ("g-add", pb.PatchOperation.ADD, [{"value": user_id}], "members"),
        ("g-rename", pb.PatchOperation.REPLACE, "Engineering", "displayName"),
        ("g-remove", pb.PatchOperation.REMOVE, [{"value": user_id}], "members"),
    ]:
        operation = pb.PatchOperation(op=op, path=path(attribute), value=value(operation_value))
        await prov.PatchGroup(
            pb.PatchGroupRequest(
                context=_ctx(request_id), org_id=org, group_id=group.id, operations=[operation]
            )
        )
    await prov.DeleteGroup(
        pb.DeleteGroupRequest(context=_ctx("g-delete"), org_id=org, group_id=group.id)
    )


async def _admin_writes(admin, org: str, user_id: str) -> None:
    as_admin = pb.Actor(admin_email=ADMIN)
    await admin.SetOrgSso(
        pb.SetOrgSsoRequest(context=_ctx("o-sso", OPERATOR.actor), org_id=org, sso_configured=True)
    )
    key = await admin.CreateScimKey(
        pb.CreateScimKeyRequest(context=_ctx("k-create", as_admin), org_id=org, name="Okta")
    )
    await admin.RevokeScimKey(
        pb.RevokeScimKeyRequest(context=_ctx("k-revoke", as_admin), org_id=org, key_id=key.key.id)
    )


async def test_every_write_records_its_event_with_actor_and_request_id(
    events, prov, admin, org, db_pool
):
    start = await position(db_pool, org)
    user_id = await _user_writes(prov, org)
    await _group_writes(prov, org, user_id)
    await _admin_writes(admin, org, user_id)
    await prov.DeleteUser(
        pb.DeleteUserRequest(context=_ctx("u-delete"), org_id=org, user_id=user_id)
    )
    replay = await drain(events.WatchEvents(pb.WatchEventsRequest(org_id=org, after_seq=start)))
    seen = {(e.type, e.request_id, e.actor) for e in replay}
    key_actor = "scim_key:test-key"
    assert {
        ("user.created", "u-create", key_actor),
        ("user.deactivated", "u-off", key_actor),
        ("user.reactivated", "u-on", key_actor),
        ("group.created", "g-create", key_actor),
        ("group.member_added", "g-add", key_actor),
        ("group.renamed", "g-rename", key_actor),
        ("group.member_removed", "g-remove", key_actor),
        ("group.deleted", "g-delete", key_actor),
        ("org.sso_changed", "o-sso", "operator"),
        ("key.created", "k-create", f"admin:{ADMIN}"),
        ("key.revoked", "k-revoke", f"admin:{ADMIN}"),
        ("user.deleted", "u-delete", key_actor),
    } <= seen
    assert seq_types(replay) == await stored(db_pool, org, start)


async def _writer(prov, org: str, worker: int, rounds: int) -> None:
    for i in range(rounds):
        user = await create_user(prov, org, f"w{worker}-{i}@x.test")
        title = pb.PatchOperation(
            op=pb.PatchOperation.REPLACE, path=path("title"), value=value("T")
        )
        await prov.PatchUser(
            pb.PatchUserRequest(context=GATEWAY, org_id=org, user_id=user.id, operations=[title])
        )


async def _resuming_consumer(
    events, org: str, seen: list[int], progress: asyncio.Event, rng: random.Random
) -> None:
    """Follows the org, hanging up after a random number of events and resuming."""
    while True:
        after = seen[-1] if seen else 0
        call = events.WatchEvents(pb.WatchEventsRequest(org_id=org, after_seq=after, follow=True))
        try:
            for _ in range(rng.randint(0, 30)):
                event = await call.read()
                assert event is not grpc.aio.EOF
                seen.append(event.seq)
                progress.set()
        finally:
            call.cancel()


async def test_a_resuming_consumer_sees_every_event_once_in_order(events, prov, org, db_pool):
    """SPEC §6 under concurrent writers on one org and random disconnects."""
    seen: list[int] = []
    progress = asyncio.Event()
    consumer = asyncio.create_task(
        _resuming_consumer(events, org, seen, progress, random.Random(6))
    )
    await asyncio.gather(*(_writer(prov, org, worker, 25) for worker in range(8)))
    final = (await stored_seqs(db_pool, org))[-1]
    try:
        while not seen or seen[-1] < final:
            assert not consumer.done(), consumer
            progress.clear()
            await asyncio.wait_for(progress.wait(), WAIT_SECONDS)
    finally:
        consumer.cancel()
    stored = await stored_seqs(db_pool, org)
    assert stored == list(range(1, final + 1))  # gap-free at the source
    assert seen == stored  # every event once, in order, no gap, nothing twice


async def test_watch_all_replays_listed_orgs_and_tails_the_rest(events, admin, prov, db_pool):
    listed, unlisted = await new_org(admin), await new_org(admin)
    unlisted_start = await position(db_pool, unlisted)
    call = events.WatchAllEvents(pb.WatchAllEventsRequest(after={listed: 1}))
    await call.initial_metadata()
    later = await new_org(admin)  # created after the call: seen from its start
    await create_user(prov, unlisted, "u@x.test")
    await create_user(prov, listed, "l@x.test")
    expected = {
        (org_id, seq)
        for org_id, after in ((listed, 1), (unlisted, unlisted_start), (later, 0))
        for seq, _ in await stored(db_pool, org_id, after)
    }
    got: list[tuple[str, int]] = []
    async with asyncio.timeout(WAIT_SECONDS):
        while not expected <= set(got):
            event = await call.read()
            assert event is not grpc.aio.EOF
            if event.org_id in (listed, unlisted, later):
                got.append((event.org_id, event.seq))
    call.cancel()
    assert sorted(got) == sorted(expected)  # nothing twice, nothing from before the call
    for org_id in (listed, later):
        seqs = [s for o, s in got if o == org_id]
        assert seqs == sorted(seqs)


async def test_a_stream_recovers_when_the_listen_connection_dies(
    events, prov, org, identity_server, db_pool
):
    hub = identity_server.hub
    start = await position(db_pool, org)
    call = events.WatchEvents(pb.WatchEventsRequest(org_id=org, after_seq=start, follow=True))
    await call.initial_metadata()
    await hub.connected.wait()
    killed = hub.backend_pid
    assert killed is not None
    # Waits until that backend has exited, so its notifications are lost.
    assert await db_pool.fetchval("SELECT pg_terminate_backend($1, 10000)", killed)
    await create_user(prov, org, "gap-1@x.test")
    await create_user(prov, org, "gap-2@x.test")
    during = await take_until_user(call, "gap-2@x.test")
    assert seq_types(during) == await stored(db_pool, org, start)
    async with asyncio.timeout(WAIT_SECONDS):
        while hub.backend_pid in (None, killed):
            await hub.connected.wait()
            await asyncio.sleep(0.01)
    await create_user(prov, org, "after@x.test")
    after = await take_until_user(call, "after@x.test")
    call.cancel()
    assert seq_types(after) == await stored(db_pool, org, during[-1].seq)


async def test_the_hub_wakes_every_stream_to_reread_after_reconnecting(identity_server, db_pool):
    hub = identity_server.hub
    await hub.connected.wait()
    killed = hub.backend_pid
    with hub.subscribe(frozenset({"some-org"})) as sub:
        assert await db_pool.fetchval("SELECT pg_terminate_backend($1, 10000)", killed)
        async with asyncio.timeout(WAIT_SECONDS):
            wake = await sub.wait(idle_seconds=WAIT_SECONDS * 10)
        assert wake.resync
        assert hub.backend_pid not in (None, killed)


async def test_closing_the_hub_ends_followed_streams(database_url, db_pool, identity_server, org):
    """What a stopping service does first, so draining is not held up by followers."""
    settings = IdentitySettings(
        database_url=database_url,
        operator_token=identity_server.operator_token,
        service_token=identity_server.service_token,
    )
    hub = EventHub(database_url)
    server, port = await create_server(settings, db_pool, "127.0.0.1:0", hub)
    await server.start()
    metadata = (("authorization", f"Bearer {identity_server.service_token}"),)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            request = pb.WatchEventsRequest(org_id=org, after_seq=1 << 40, follow=True)
            call = pb_grpc.EventsStub(channel).WatchEvents(request, metadata=metadata)
            await call.initial_metadata()
            await hub.close()
            async with asyncio.timeout(WAIT_SECONDS):
                assert await call.read() is grpc.aio.EOF
            assert await call.code() == grpc.StatusCode.OK
    finally:
        await server.stop(grace=None)
        await hub.close()


async def _revoke_new_key(admin, org: str) -> str:
    await admin.SetOrgSso(pb.SetOrgSsoRequest(context=OPERATOR, org_id=org, sso_configured=True))
    key = await admin.CreateScimKey(pb.CreateScimKeyRequest(context=OPERATOR, org_id=org, name="k"))
    await admin.RevokeScimKey(
        pb.RevokeScimKeyRequest(context=OPERATOR, org_id=org, key_id=key.key.id)
    )
    return str(key.key.id)


async def _read_until(call, org: str, done) -> list[pb.Event]:
    """The stream's messages about `org` until `done(messages)` holds."""
    got: list[pb.Event] = []
    async with asyncio.timeout(WAIT_SECONDS):
        while not done(got):
            message = await call.read()
            assert message is not grpc.aio.EOF
            if message.org_id == org:
                got.append(message)
    return got


async def test_a_filtered_stream_sends_only_those_types_and_marks_its_place(
    events, admin, prov, db_pool
):
    org = await new_org(admin)
    start = await position(db_pool, org)
    call = events.WatchAllEvents(
        pb.WatchAllEventsRequest(after={org: start}, types=["key.revoked"])
    )
    await call.initial_metadata()
    for n in range(5):
        await create_user(prov, org, f"busy-{n}@x.test")
    # The passed-over writes leave a mark before the next wanted event exists
    # (read first: a page holding both ends on the event, which is the position).
    got = await _read_until(call, org, lambda got: bool(got))
    revoked = await _revoke_new_key(admin, org)
    got += await _read_until(call, org, lambda got: any(m.type for m in got))
    call.cancel()
    typed = [m for m in got if m.type]
    marks = [m for m in got if not m.type]
    assert [(m.type, m.resource_id) for m in typed] == [("key.revoked", revoked)]
    assert marks, "the passed-over user events leave a position mark"
    assert all(not (m.resource_id or m.data.fields) for m in marks)  # a mark is a position only
    seqs = [m.seq for m in got]
    assert seqs == sorted(set(seqs))  # in order, each position once
    assert typed[0].seq == (await stored(db_pool, org, start))[-1][0]


async def test_resuming_a_filtered_stream_from_a_mark_misses_nothing_and_repeats_nothing(
    events, admin, prov, db_pool
):
    org = await new_org(admin)
    start = await position(db_pool, org)
    first = events.WatchAllEvents(
        pb.WatchAllEventsRequest(after={org: start}, types=["key.revoked"])
    )
    await first.initial_metadata()
    earlier = await _revoke_new_key(admin, org)
    for n in range(3):
        await create_user(prov, org, f"before-{n}@x.test")
    # Marks come at most once a MARK_INTERVAL: one more write after it has
    # passed leaves a mark at the very end of the log.
    await asyncio.sleep(event_streams.MARK_INTERVAL_SECONDS)
    await create_user(prov, org, "last@x.test")
    end = await position(db_pool, org)
    got = await _read_until(first, org, lambda got: bool(got) and got[-1].seq == end)
    first.cancel()
    assert [m.resource_id for m in got if m.type] == [earlier]
    resume_at = got[-1].seq
    assert not got[-1].type  # a mark past the revocation and the creates

    later = await _revoke_new_key(admin, org)
    second = events.WatchAllEvents(
        pb.WatchAllEventsRequest(after={org: resume_at}, types=["key.revoked"])
    )
    again = await _read_until(second, org, lambda got: any(m.type for m in got))
    second.cancel()
    assert [m.resource_id for m in again if m.type] == [later]
    assert all(m.seq > resume_at for m in again)
