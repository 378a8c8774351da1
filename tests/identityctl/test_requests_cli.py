"""identityctl requests and key create --expires-in, against the real service (issue 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import timestamp_pb2

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.identityctl.test_cli import ADMIN, cli, create_org, new_org

NOW = datetime.now(UTC).replace(microsecond=0)


def entry(org: str, seconds_ago: int, **fields) -> pb.RequestLogEntry:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(NOW - timedelta(seconds=seconds_ago))
    defaults = {"method": "GET", "route": "/Users", "status": 200, "latency_ms": 4.25}
    return pb.RequestLogEntry(org_id=org, time=stamp, **{"idp": "okta", **defaults, **fields})


@pytest.fixture
async def logged_org(env, service_channel: grpc.aio.Channel) -> str:
    org = new_org()
    await create_org(env, org)
    failure = entry(
        org,
        1,
        method="POST",
        status=409,
        scim_type="uniqueness",
        error_detail="userName ada@x.test is taken",
        masked_body='{"password":"****","userName":"ada@x.test"}',
        request_id="the-conflict",
    )
    batch = [entry(org, 3, idp="entra", request_id="entra-read"), entry(org, 2), failure]
    await pb_grpc.ProvisioningStub(service_channel).RecordRequests(
        pb.RecordRequestsRequest(entries=batch)
    )
    return org


async def test_requests_lists_newest_first_with_failures_explained(env, logged_org):
    listed = await cli(env, "requests", logged_org, "--actor", ADMIN, "--json")
    assert listed.code == 0, listed.err
    rows = listed.json()
    assert [r["status"] for r in rows] == [409, 200, 200]
    assert rows[0]["error_detail"] == "userName ada@x.test is taken"
    assert rows[0]["time"] == (NOW - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")

    text = await cli(env, "requests", logged_org, "--actor", ADMIN)
    first, error, body = text.out.splitlines()[:3]
    assert "POST" in first
    assert "409 uniqueness" in first
    assert "[request the-conflict]" in first
    assert error.strip() == "error: userName ada@x.test is taken"
    assert body.strip() == 'body:  {"password":"****","userName":"ada@x.test"}'


async def test_requests_filters(env, logged_org):
    async def request_ids(*flags: str) -> list[str]:
        result = await cli(env, "requests", logged_org, *flags, "--actor", ADMIN, "--json")
        assert result.code == 0, result.err
        return [r["request_id"] for r in result.json()]

    assert await request_ids("--failures") == ["the-conflict"]
    assert await request_ids("--method", "post", "--resource", "Users") == ["the-conflict"]
    assert await request_ids("--idp", "entra") == ["entra-read"]
    assert len(await request_ids("--count", "2")) == 2


async def test_requests_need_an_org_admin(env, logged_org):
    refused = await cli(env, "requests", logged_org, "--actor", "someone@example.test")
    assert refused.code == 1
    assert "not an Org Admin" in refused.err
    assert refused.out == ""


async def test_key_create_expires_in_sets_and_shows_the_expiry(env):
    org = new_org()
    await create_org(env, org, "--sso-configured")
    created = await cli(
        env, "key", "create", org, "--name", "Okta", "--expires-in", "90d", "--actor", ADMIN,
        "--json",
    )  # fmt: skip
    assert created.code == 0, created.err
    data = created.json()
    lifetime = datetime.fromisoformat(data["expires"]) - datetime.fromisoformat(data["created"])
    assert timedelta(days=90) <= lifetime < timedelta(days=90, seconds=5)

    listed = await cli(env, "key", "list", org, "--actor", ADMIN)
    (line,) = (ln for ln in listed.out.splitlines() if ln.startswith(data["id"]))
    assert data["expires"] in line
    plain = await cli(env, "key", "create", org, "--name", "Entra", "--actor", ADMIN)
    assert "expires:       never" in plain.out


@pytest.mark.parametrize("duration", ["90", "0d", "3w", "1.5d"])
async def test_key_create_refuses_a_duration_it_cannot_read(env, duration):
    result = await cli(
        env, "key", "create", new_org(), "--name", "N", "--expires-in", duration, "--actor", ADMIN
    )
    assert result.code == 2
    assert "not a duration" in result.err
