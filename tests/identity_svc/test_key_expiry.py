"""SCIM keys with an expiry: shown, and refused like revoked ones once past it (issue 12)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from tests.identity_svc.support import OPERATOR, error_reason, new_org_id

ADMIN = "owner@acme.test"
AS_ADMIN = pb.RequestContext(actor=pb.Actor(admin_email=ADMIN), request_id="r")


@pytest.fixture
async def org(admin) -> str:
    org_id = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(
            context=OPERATOR, org_id=org_id, name="Acme", admin_email=ADMIN, sso_configured=True
        )
    )
    return org_id


async def create(admin, org: str, expires_in_seconds: int = 0) -> pb.CreateScimKeyResponse:
    return await admin.CreateScimKey(
        pb.CreateScimKeyRequest(
            context=AS_ADMIN, org_id=org, name="Okta", expires_in_seconds=expires_in_seconds
        )
    )


async def test_a_key_created_with_an_expiry_carries_it_and_works_until_then(admin, prov, org):
    created = await create(admin, org, expires_in_seconds=90 * 86400)
    lifetime = created.key.expires.ToDatetime() - created.key.created.ToDatetime()
    assert timedelta(days=90) <= lifetime < timedelta(days=90, seconds=5)
    listed = await admin.ListScimKeys(pb.ListScimKeysRequest(context=AS_ADMIN, org_id=org))
    assert [k.expires for k in listed.keys] == [created.key.expires]
    verdict = await prov.VerifyScimKey(pb.VerifyScimKeyRequest(org_id=org, token=created.token))
    assert verdict.valid
    assert verdict.key.expires == created.key.expires


async def test_a_key_without_an_expiry_never_expires(admin, org):
    created = await create(admin, org)
    assert not created.key.HasField("expires")


async def test_an_expired_key_is_refused_like_a_revoked_one(admin, prov, org, db_pool):
    created = await create(admin, org, expires_in_seconds=3600)
    revoked = await create(admin, org)
    await admin.RevokeScimKey(
        pb.RevokeScimKeyRequest(context=AS_ADMIN, org_id=org, key_id=revoked.key.id)
    )
    await db_pool.execute(
        "UPDATE scim_keys SET expires = clock_timestamp() - interval '1 second'"
        " WHERE org_id = $1 AND id = $2",
        org,
        created.key.id,
    )
    answers = [
        await prov.VerifyScimKey(pb.VerifyScimKeyRequest(org_id=org, token=key.token))
        for key in (created, revoked)
    ]
    assert answers[0] == answers[1] == pb.VerifyScimKeyResponse(valid=False)


@pytest.mark.parametrize("seconds", [-1, 3651 * 86400])
async def test_an_expiry_in_the_past_or_beyond_ten_years_is_refused(
    admin, org, db_pool: asyncpg.Pool, seconds
):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(admin, org, expires_in_seconds=seconds)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == "INVALID_VALUE"
    assert await db_pool.fetchval("SELECT count(*) FROM scim_keys WHERE org_id = $1", org) == 0
