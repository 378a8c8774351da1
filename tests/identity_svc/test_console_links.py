"""Console sign-in links (issue #12), over real gRPC and Postgres."""

from __future__ import annotations

import asyncio
import hashlib

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_svc.services.console_links import LINK_LIFETIME
from tests.identity_svc.event_support import drain
from tests.identity_svc.support import OPERATOR, new_org_id

ADMIN = "admin@x.test"


async def create(admin, org: str, email: str = ADMIN) -> pb.CreateConsoleLinkResponse:
    return await admin.CreateConsoleLink(
        pb.CreateConsoleLinkRequest(context=OPERATOR, org_id=org, admin_email=email)
    )


async def redeem(admin, token: str) -> pb.RedeemConsoleLinkResponse:
    return await admin.RedeemConsoleLink(pb.RedeemConsoleLinkRequest(token=token))


async def stored_links(db_pool, org: str) -> list[bytes]:
    rows = await db_pool.fetch("SELECT token_sha256 FROM console_links WHERE org_id = $1", org)
    return [bytes(row["token_sha256"]) for row in rows]


async def test_a_link_signs_in_its_admin_once(admin, org):
    link = await create(admin, org)
    assert len(link.token) >= 40
    redeemed = await redeem(admin, link.token)
    assert (redeemed.org_id, redeemed.admin_email) == (org, ADMIN)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await redeem(admin, link.token)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_only_the_tokens_hash_is_stored_and_it_expires_in_minutes(admin, org, db_pool):
    link = await create(admin, org)
    assert await stored_links(db_pool, org) == [hashlib.sha256(link.token.encode()).digest()]
    row = await db_pool.fetchrow(
        "SELECT expires - created AS lifetime FROM console_links WHERE org_id = $1", org
    )
    assert row["lifetime"] == LINK_LIFETIME


async def test_an_expired_link_signs_in_nobody(admin, org, db_pool):
    link = await create(admin, org)
    await db_pool.execute(
        "UPDATE console_links SET expires = clock_timestamp() - interval '1 second'"
        " WHERE org_id = $1",
        org,
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await redeem(admin, link.token)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    used = await db_pool.fetchval("SELECT used FROM console_links WHERE org_id = $1", org)
    assert used is None


@pytest.mark.parametrize("token", ["", "not-a-token", "x" * 43, "org-x."])
async def test_an_unknown_token_signs_in_nobody(admin, token):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await redeem(admin, token)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_redemptions_sign_in_exactly_once(admin, org):
    link = await create(admin, org)
    results = await asyncio.gather(
        *(redeem(admin, link.token) for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(r, pb.RedeemConsoleLinkResponse) for r in results) == 1
    failures = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
    assert [f.code() for f in failures] == [grpc.StatusCode.NOT_FOUND] * 4


async def test_no_link_for_someone_who_is_not_an_org_admin(admin, org, db_pool):
    for email in ("stranger@x.test", "   "):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await create(admin, org, email)
        assert caught.value.code() in {
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.INVALID_ARGUMENT,
        }
    other = new_org_id()  # an Org Admin of another org is nobody here
    await admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=other, name="O", admin_email="boss@o.test")
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(admin, org, "boss@o.test")
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert await stored_links(db_pool, org) == []


async def test_no_link_for_an_unknown_org(admin):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(admin, new_org_id())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_a_demoted_admins_link_signs_in_nobody(admin, org):
    link = await create(admin, org)
    await admin.SetDirectRole(
        pb.SetDirectRoleRequest(context=OPERATOR, org_id=org, user_name=ADMIN, role=pb.OBSERVER)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await redeem(admin, link.token)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_services_cannot_make_or_redeem_links(service_channel, org):
    from identity_api.v1 import identity_pb2_grpc as pb_grpc

    as_service = pb_grpc.OrgAdminStub(service_channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(as_service, org)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await redeem(as_service, "whatever")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_token_is_bound_to_its_org(admin, org):
    link = await create(admin, org)
    _, _, secret = link.token.rpartition(".")
    other = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=other, name="O", admin_email=ADMIN)
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await redeem(admin, f"{other}.{secret}")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await redeem(admin, link.token)).org_id == org


async def test_issuing_and_using_a_link_is_in_the_audit_log(admin, events, org):
    link = await create(admin, org)
    await admin.RedeemConsoleLink(
        pb.RedeemConsoleLinkRequest(token=link.token), metadata=(("x-request-id", "sign-in-1"),)
    )
    replay = await drain(events.WatchEvents(pb.WatchEventsRequest(org_id=org)))
    audit = [e for e in replay if e.type.startswith("console.")]
    assert [(e.type, e.actor, e.data["admin_email"]) for e in audit] == [
        ("console.link_created", "operator", ADMIN),
        ("console.signed_in", "operator", ADMIN),
    ]
    assert audit[1].request_id == "sign-in-1"
    assert [e.resource_type for e in audit] == ["ConsoleLink", "ConsoleLink"]
    assert link.token not in str(replay)  # the token itself is never recorded
