"""SCIM keys and caller authentication, over real gRPC and Postgres."""

from __future__ import annotations

import hashlib

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.db.keys import KeysRepository
from identity_svc.services import keys
from tests.identity_svc.support import OPERATOR, error_reason, new_org_id
from tests.query_log import QueryLog

ADMIN = "owner@acme.test"


def as_admin(email: str = ADMIN) -> pb.RequestContext:
    return pb.RequestContext(actor=pb.Actor(admin_email=email), request_id="r")


@pytest.fixture
async def org(admin) -> str:
    org_id = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(
            context=OPERATOR, org_id=org_id, name="Acme", admin_email=ADMIN, sso_configured=True
        )
    )
    return org_id


async def test_key_needs_sso(admin):
    org_id = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=org_id, name="A", admin_email=ADMIN)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.CreateScimKey(
            pb.CreateScimKeyRequest(context=as_admin(), org_id=org_id, name="Okta")
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "SSO" in str(caught.value.details())


async def test_key_needs_an_org_admin(admin, org):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.CreateScimKey(
            pb.CreateScimKeyRequest(context=as_admin("intruder@acme.test"), org_id=org, name="Okta")
        )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError):
        await admin.ListScimKeys(
            pb.ListScimKeysRequest(context=as_admin("intruder@acme.test"), org_id=org)
        )


async def test_admin_email_matches_case_insensitively(admin, org):
    created = await admin.CreateScimKey(
        pb.CreateScimKeyRequest(context=as_admin(ADMIN.upper()), org_id=org, name="Okta")
    )
    assert created.key.created_by == f"admin:{ADMIN.upper()}"


async def test_only_a_hash_is_stored_and_the_secret_is_never_shown_again(admin, org, db_pool):
    created = await admin.CreateScimKey(
        pb.CreateScimKeyRequest(context=as_admin(), org_id=org, name="Okta")
    )
    prefix, key_id, secret = created.token.split("_", 2)
    assert (prefix, key_id) == ("gscim", created.key.id)
    assert len(secret) >= 43  # 256 bits, base64url
    row = await db_pool.fetchrow(
        "SELECT * FROM scim_keys WHERE org_id = $1 AND id = $2", org, key_id
    )
    assert bytes(row["secret_sha256"]) == hashlib.sha256(secret.encode()).digest()
    assert all(secret not in str(v) for v in dict(row).values())
    listed = await admin.ListScimKeys(pb.ListScimKeysRequest(context=as_admin(), org_id=org))
    assert secret not in str(listed)
    events = await db_pool.fetch("SELECT data::text AS d FROM events WHERE org_id = $1", org)
    assert all(secret not in e["d"] for e in events)


async def test_verify_accepts_live_keys_of_their_own_org_only(admin, prov, org, db_pool):
    other = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(
            context=OPERATOR, org_id=other, name="B", admin_email=ADMIN, sso_configured=True
        )
    )
    token = (
        await admin.CreateScimKey(pb.CreateScimKeyRequest(context=as_admin(), org_id=org, name="k"))
    ).token
    ok = await prov.VerifyScimKey(pb.VerifyScimKeyRequest(org_id=org, token=token))
    assert ok.valid
    assert ok.key.org_id == org
    last_used = "SELECT last_used FROM scim_keys WHERE org_id = $1 AND id = $2"
    assert await db_pool.fetchval(last_used, org, ok.key.id) is not None
    for org_id, presented in [
        (other, token),  # another org's URL
        (org, token[:-1] + ("A" if token[-1] != "A" else "B")),  # wrong secret
        (org, "gscim_nokey_secret"),
        (org, "Bearer something"),
        (org, ""),
    ]:
        verdict = await prov.VerifyScimKey(pb.VerifyScimKeyRequest(org_id=org_id, token=presented))
        assert not verdict.valid
        assert not verdict.HasField("key")


async def test_revoked_keys_stop_working_and_others_keep_working(admin, prov, org):
    first = await admin.CreateScimKey(
        pb.CreateScimKeyRequest(context=as_admin(), org_id=org, name="old")
    )
    second = await admin.CreateScimKey(
        pb.CreateScimKeyRequest(context=as_admin(), org_id=org, name="new")
    )
    revoked = await admin.RevokeScimKey(
        pb.RevokeScimKeyRequest(context=as_admin(), org_id=org, key_id=first.key.id)
    )
    assert revoked.HasField("revoked")
    assert not (
        await prov.VerifyScimKey(pb.VerifyScimKeyRequest(org_id=org, token=first.token))
    ).valid
    assert (await prov.VerifyScimKey(pb.VerifyScimKeyRequest(org_id=org, token=second.token))).valid
    listed = await admin.ListScimKeys(pb.ListScimKeysRequest(context=as_admin(), org_id=org))
    assert [(k.name, k.HasField("revoked")) for k in listed.keys] == [("old", True), ("new", False)]


async def test_org_admin_rpcs_need_the_operator_credential(service_channel, identity_server):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await pb_grpc.OrgAdminStub(service_channel).GetOrg(pb.GetOrgRequest(org_id="x"))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    async with grpc.aio.insecure_channel(identity_server.address) as anonymous:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await pb_grpc.ProvisioningStub(anonymous).ListUsers(pb.ListUsersRequest(org_id="x"))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_health_is_open(identity_server):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    async with grpc.aio.insecure_channel(identity_server.address) as anonymous:
        reply = await health_pb2_grpc.HealthStub(anonymous).Check(
            health_pb2.HealthCheckRequest(service="identity_api.v1.Provisioning")
        )
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_org_ids_are_slugs(admin):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.CreateOrg(
            pb.CreateOrgRequest(context=OPERATOR, org_id="Bad Org!", name="A", admin_email=ADMIN)
        )
    assert error_reason(caught.value) == "INVALID_VALUE"


async def test_duplicate_org_is_already_exists(admin, org):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.CreateOrg(
            pb.CreateOrgRequest(context=OPERATOR, org_id=org, name="A", admin_email=ADMIN)
        )
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_org_creation_makes_the_admin_a_member_with_org_admin(admin, prov, org):
    users = await prov.ListUsers(pb.ListUsersRequest(org_id=org))
    assert [(u.user_name, pb.Role.Name(u.direct_role)) for u in users.users] == [
        (ADMIN, "ORG_ADMIN")
    ]


async def test_direct_role_can_be_set_and_cleared(admin, org):
    set_ = await admin.SetDirectRole(
        pb.SetDirectRoleRequest(context=OPERATOR, org_id=org, user_name=ADMIN, role=pb.GRAPH_ADMIN)
    )
    assert set_.user.direct_role == pb.GRAPH_ADMIN
    with pytest.raises(grpc.aio.AioRpcError) as caught:  # no longer an Org Admin
        await admin.CreateScimKey(pb.CreateScimKeyRequest(context=as_admin(), org_id=org, name="k"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    cleared = await admin.SetDirectRole(
        pb.SetDirectRoleRequest(context=OPERATOR, org_id=org, user_name=ADMIN)
    )
    assert cleared.user.direct_role == pb.ROLE_UNSPECIFIED


async def test_revoking_twice_keeps_the_first_time_and_writes_one_event(admin, org, db_pool):
    created = await admin.CreateScimKey(
        pb.CreateScimKeyRequest(context=as_admin(), org_id=org, name="k")
    )
    request = pb.RevokeScimKeyRequest(context=as_admin(), org_id=org, key_id=created.key.id)
    first = await admin.RevokeScimKey(request)
    second = await admin.RevokeScimKey(request)
    assert second.revoked == first.revoked
    events = await db_pool.fetchval(
        "SELECT count(*) FROM events WHERE org_id = $1 AND type = 'key.revoked'", org
    )
    assert events == 1
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.RevokeScimKey(
            pb.RevokeScimKeyRequest(context=as_admin(), org_id=org, key_id="nokey")
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


_LAST_USED = "SELECT last_used FROM scim_keys WHERE org_id = $1 AND id = $2"
_USED_AGO = """
UPDATE scim_keys
SET last_used = clock_timestamp() - make_interval(secs => $3)
WHERE org_id = $1 AND id = $2
RETURNING last_used
"""


async def test_last_used_is_written_at_most_once_a_minute(admin, prov, org, db_pool):
    """SPEC §5: verifying a key must not cost a write on every request."""
    created = await admin.CreateScimKey(
        pb.CreateScimKeyRequest(context=as_admin(), org_id=org, name="k")
    )
    key_id, verify = created.key.id, pb.VerifyScimKeyRequest(org_id=org, token=created.token)
    assert await db_pool.fetchval(_LAST_USED, org, key_id) is None
    assert (await prov.VerifyScimKey(verify)).valid
    assert await db_pool.fetchval(_LAST_USED, org, key_id) is not None

    # Used 30 s ago: a verification reads the key and writes nothing.
    recent = await db_pool.fetchval(_USED_AGO, org, key_id, 30)
    log = QueryLog(db_pool)
    assert await keys.verify_key(log.pool, org, created.token) is not None
    assert log.statements, "the log saw none of the verification's statements"
    assert [s for s in log.statements if "UPDATE" in s.upper()] == []
    assert await db_pool.fetchval(_LAST_USED, org, key_id) == recent

    # Used over a minute ago: the next verification writes the time again.
    stale = await db_pool.fetchval(_USED_AGO, org, key_id, 61)
    assert (await prov.VerifyScimKey(verify)).valid
    assert await db_pool.fetchval(_LAST_USED, org, key_id) > stale


async def test_the_last_used_write_itself_skips_a_fresh_time(admin, org, db_pool):
    """Replicas that verify the same key at once: only one write per minute lands."""
    created = await admin.CreateScimKey(
        pb.CreateScimKeyRequest(context=as_admin(), org_id=org, name="k")
    )
    key_id = created.key.id
    recent = await db_pool.fetchval(_USED_AGO, org, key_id, 30)
    async with db_pool.acquire() as conn:
        await KeysRepository(conn).touch(org, key_id)
    assert await db_pool.fetchval(_LAST_USED, org, key_id) == recent
    stale = await db_pool.fetchval(_USED_AGO, org, key_id, 61)
    async with db_pool.acquire() as conn:
        await KeysRepository(conn).touch(org, key_id)
    assert await db_pool.fetchval(_LAST_USED, org, key_id) > stale
