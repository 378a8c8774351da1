"""Stubs and a fresh org for the identity service's gRPC tests."""

from __future__ import annotations

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.identity_svc.support import OPERATOR, new_org_id


@pytest.fixture
def admin(operator_channel: grpc.aio.Channel) -> pb_grpc.OrgAdminAsyncStub:
    return pb_grpc.OrgAdminStub(operator_channel)


@pytest.fixture
def prov(service_channel: grpc.aio.Channel) -> pb_grpc.ProvisioningAsyncStub:
    return pb_grpc.ProvisioningStub(service_channel)


@pytest.fixture
def events(service_channel: grpc.aio.Channel) -> pb_grpc.EventsAsyncStub:
    return pb_grpc.EventsStub(service_channel)


@pytest.fixture
def directory(service_channel: grpc.aio.Channel) -> pb_grpc.DirectoryAsyncStub:
    return pb_grpc.DirectoryStub(service_channel)


@pytest.fixture
async def org(admin: pb_grpc.OrgAdminAsyncStub) -> str:
    """A new org whose only member is its admin, admin@x.test."""
    org_id = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=org_id, name="Org", admin_email="admin@x.test")
    )
    return org_id
