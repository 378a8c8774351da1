"""The request log through the real RPCs: recording, listing, stats, retention (issue 12)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import grpc
import pytest
from google.protobuf import timestamp_pb2

from identity_api.v1 import identity_pb2 as pb
from identity_svc.request_log_purge import RequestLogPurger, purge_org
from tests.identity_svc.support import OPERATOR, error_reason, new_org_id

ADMIN = pb.RequestContext(actor=pb.Actor(admin_email="admin@x.test"), request_id="r")
NOW = datetime.now(UTC).replace(microsecond=0)


def at(when: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


def entry(org: str, seconds_ago: float, **fields) -> pb.RequestLogEntry:
    defaults = {
        "method": "GET",
        "route": "/Users",
        "status": 200,
        "latency_ms": 3.5,
        "idp": "okta",
        "key_id": "k1",
        "request_id": f"req-{seconds_ago}",
    }
    return pb.RequestLogEntry(
        org_id=org, time=at(NOW - timedelta(seconds=seconds_ago)), **{**defaults, **fields}
    )


async def listed(admin, org: str, **filters) -> list[pb.RequestLogEntry]:
    answer = await admin.ListRequests(pb.ListRequestsRequest(context=ADMIN, org_id=org, **filters))
    return list(answer.entries)


async def test_a_batch_is_stored_and_listed_newest_first_without_unknown_orgs_or_statuses(
    prov, admin, org
):
    failed = entry(
        org,
        1,
        method="POST",
        status=409,
        scim_type="uniqueness",
        error_detail="userName is taken",
        masked_body='{"userName":"a@x.test","password":"****"}',
        resource_id="",
    )
    unknown_org, no_status = entry(new_org_id(), 0), entry(org, 0, status=70000)
    batch = [entry(org, 2), failed, unknown_org, no_status]
    answer = await prov.RecordRequests(pb.RecordRequestsRequest(entries=batch))
    assert answer.recorded == 2

    newest, older = await listed(admin, org)
    assert (newest.method, newest.status, newest.scim_type) == ("POST", 409, "uniqueness")
    assert newest.error_detail == "userName is taken"
    assert newest.masked_body == '{"userName":"a@x.test","password":"****"}'
    assert newest.time.ToDatetime(tzinfo=UTC) == NOW - timedelta(seconds=1)
    assert (older.route, older.idp, older.key_id, older.latency_ms) == ("/Users", "okta", "k1", 3.5)


async def test_filters_pick_outcome_method_resource_and_idp(prov, admin, org):
    batch = [
        entry(org, 5, request_id="get-users"),
        entry(org, 4, request_id="post-users", method="POST", status=201),
        entry(org, 3, request_id="patch-group", method="PATCH", route="/Groups/{id}", idp="entra"),
        entry(org, 2, request_id="bad-key", status=401, idp="other"),
        entry(org, 1, request_id="bulk", method="POST", route="/Bulk", status=400),
    ]
    await prov.RecordRequests(pb.RecordRequestsRequest(entries=batch))

    async def ids(**filters) -> list[str]:
        return [e.request_id for e in await listed(admin, org, **filters)]

    assert await ids(outcome="failure") == ["bulk", "bad-key"]
    assert await ids(outcome="success") == ["patch-group", "post-users", "get-users"]
    assert await ids(method="post") == ["bulk", "post-users"]
    assert await ids(resource="Groups") == ["patch-group"]
    assert await ids(resource="users") == ["bad-key", "post-users", "get-users"]
    assert await ids(idp="entra") == ["patch-group"]
    assert await ids(outcome="failure", method="POST") == ["bulk"]


async def test_cursor_pages_walk_every_entry_once_newest_first(prov, admin, org):
    # Two share a time: the id orders them, and no page boundary loses one.
    batch = [entry(org, s, request_id=f"r{n}") for n, s in enumerate([5, 4, 3, 3, 2])]
    await prov.RecordRequests(pb.RecordRequestsRequest(entries=batch))
    seen, cursor, pages = [], "", 0
    while True:
        answer = await admin.ListRequests(
            pb.ListRequestsRequest(context=ADMIN, org_id=org, count=2, cursor=cursor)
        )
        seen += [e.request_id for e in answer.entries]
        pages += 1
        cursor = answer.next_cursor
        if not cursor:
            break
    assert pages == 3
    assert sorted(seen[1:3]) == ["r2", "r3"]
    assert [seen[0], *seen[3:]] == ["r4", "r1", "r0"]


async def test_count_defaults_to_50_and_stops_at_200(prov, admin, org):
    batch = [entry(org, n) for n in range(210)]
    await prov.RecordRequests(pb.RecordRequestsRequest(entries=batch))
    assert len(await listed(admin, org)) == 50
    assert len(await listed(admin, org, count=500)) == 200


@pytest.mark.parametrize(
    ("filters", "reason"),
    [
        ({"cursor": "not-a-cursor"}, "INVALID_CURSOR"),
        ({"outcome": "maybe"}, "INVALID_VALUE"),
        ({"idp": "onelogin"}, "INVALID_VALUE"),
        ({"count": -1}, "INVALID_VALUE"),
    ],
)
async def test_bad_queries_are_invalid_arguments(admin, org, filters, reason):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await listed(admin, org, **filters)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == reason


async def test_only_org_admins_and_the_operator_read_the_log(prov, admin, org):
    await prov.RecordRequests(pb.RecordRequestsRequest(entries=[entry(org, 1)]))
    stranger = pb.RequestContext(actor=pb.Actor(admin_email="someone@x.test"))
    for call in (
        admin.ListRequests(pb.ListRequestsRequest(context=stranger, org_id=org)),
        admin.GetRequestStats(pb.GetRequestStatsRequest(context=stranger, org_id=org)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    answer = await admin.ListRequests(pb.ListRequestsRequest(context=OPERATOR, org_id=org))
    assert len(answer.entries) == 1


async def test_unknown_org_is_not_found(admin):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.ListRequests(pb.ListRequestsRequest(context=OPERATOR, org_id=new_org_id()))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_stats_tell_the_last_success_the_last_error_and_the_last_24_hours(prov, admin, org):
    empty = await admin.GetRequestStats(pb.GetRequestStatsRequest(context=ADMIN, org_id=org))
    assert not empty.HasField("last_success")
    assert not empty.HasField("last_error")
    batch = [
        entry(org, 2 * 86400, status=500, request_id="old-error"),
        entry(org, 30, status=200),
        entry(org, 20, status=401, error_detail="bad key", request_id="bad-key"),
        entry(org, 10, status=201, method="POST"),
    ]
    await prov.RecordRequests(pb.RecordRequestsRequest(entries=batch))
    stats = await admin.GetRequestStats(pb.GetRequestStatsRequest(context=ADMIN, org_id=org))
    assert stats.last_success.ToDatetime(tzinfo=UTC) == NOW - timedelta(seconds=10)
    assert (stats.last_error.request_id, stats.last_error.error_detail) == ("bad-key", "bad key")
    assert (stats.requests_24h, stats.errors_24h) == (3, 1)


async def _request_ids(db_pool: asyncpg.Pool, org: str) -> list[str]:
    rows = await db_pool.fetch(
        "SELECT request_id FROM request_log WHERE org_id = $1 ORDER BY time", org
    )
    return [r["request_id"] for r in rows]


async def test_the_purge_removes_only_entries_past_the_retention(prov, org, db_pool):
    batch = [entry(org, 40 * 86400, request_id="old"), entry(org, 29 * 86400, request_id="kept")]
    await prov.RecordRequests(pb.RecordRequestsRequest(entries=batch))
    purger = RequestLogPurger(db_pool, timedelta(days=30), max_per_org=100_000)
    assert await purger.purge_once() >= 1
    assert await _request_ids(db_pool, org) == ["kept"]
    assert await purger.purge_once() == 0  # idempotent: nothing left to take


async def test_the_purge_keeps_the_newest_entries_of_an_org_up_to_its_cap(prov, org, db_pool):
    other = new_org_id()
    await prov.RecordRequests(
        pb.RecordRequestsRequest(entries=[entry(org, s, request_id=f"r{s}") for s in range(7)])
    )
    # Small batches: the cap is reached over several bounded statements.
    deleted = await purge_org(db_pool, org, NOW - timedelta(days=30), keep=3, batch=2)
    assert deleted == 4
    assert await _request_ids(db_pool, org) == ["r2", "r1", "r0"]
    assert await purge_org(db_pool, other, NOW - timedelta(days=30), keep=3) == 0


async def test_replicas_purging_one_org_at_once_share_the_work(prov, org, db_pool):
    batch = [entry(org, s, request_id=f"r{s}") for s in range(50)]
    await prov.RecordRequests(pb.RecordRequestsRequest(entries=batch))
    purges = [purge_org(db_pool, org, NOW - timedelta(days=30), keep=10, batch=7) for _ in range(3)]
    deleted = await asyncio.gather(*purges)
    assert sum(deleted) == 40  # each entry deleted once, by one of them
    assert await _request_ids(db_pool, org) == [f"r{s}" for s in range(9, -1, -1)]


async def test_the_purger_runs_in_the_background_until_closed(prov, org, db_pool):
    await prov.RecordRequests(
        pb.RecordRequestsRequest(entries=[entry(org, 40 * 86400, request_id="old")])
    )
    purger = RequestLogPurger(db_pool, timedelta(days=30), 100_000, every_seconds=0.05)
    purger.start()
    try:
        async with asyncio.timeout(15):  # a guard against a hang, not a timing assertion
            while True:
                if not await _request_ids(db_pool, org):
                    break
                await asyncio.sleep(0.02)
    finally:
        await purger.close()
