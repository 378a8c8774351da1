"""How the service answers when things go wrong: mapped, never leaked."""

from __future__ import annotations

import asyncio
import secrets

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.db.pool import create_pool
from identity_svc.domain import errors
from identity_svc.interceptors import ERRORS
from identity_svc.server import create_server
from identity_svc.settings import Settings
from tests.identity_svc.support import GATEWAY, OPERATOR, new_org_id, struct, user_doc


def _subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    direct: list[type] = cls.__subclasses__()
    for subclass in direct:
        found |= {subclass} | _subclasses(subclass)
    return found


def test_every_domain_error_has_a_status():
    assert _subclasses(errors.DomainError) == set(ERRORS)


async def test_database_down_is_unavailable(database_url):
    settings = Settings(database_url=database_url, operator_token=secrets.token_hex(16))
    pool = await create_pool(database_url, min_size=1, max_size=1)
    server, port = await create_server(settings, pool, "127.0.0.1:0")
    await server.start()
    try:
        await pool.close()  # the store goes away
        metadata = (("authorization", f"Bearer {settings.operator_token}"),)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await pb_grpc.ProvisioningStub(channel).ListUsers(
                    pb.ListUsersRequest(org_id="x"), metadata=metadata
                )
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "Traceback" not in str(caught.value.details())
    finally:
        await server.stop(grace=None)


async def test_event_sequences_are_gapless_under_concurrent_writes(
    operator_channel, service_channel, db_pool
):
    org = new_org_id()
    await pb_grpc.OrgAdminStub(operator_channel).CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=org, name="E", admin_email="e@x.test")
    )
    prov = pb_grpc.ProvisioningStub(service_channel)
    await asyncio.gather(
        *(
            prov.CreateUser(
                pb.CreateUserRequest(
                    context=GATEWAY, org_id=org, attributes=struct(user_doc(f"e{i}@x.test"))
                )
            )
            for i in range(30)
        )
    )
    seqs = [
        r["seq"]
        for r in await db_pool.fetch("SELECT seq FROM events WHERE org_id = $1 ORDER BY seq", org)
    ]
    assert seqs == list(range(1, len(seqs) + 1))
    # org.created, admin created, direct and effective role, then the users
    assert len(seqs) == 4 + 30
