"""identityctl runs against the session's real identity service."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.conftest import IdentityServer

PUBLIC_URL = "https://scim.example.test/"  # with a slash: identityctl must not double it


@pytest.fixture
def env(identity_server: IdentityServer, tmp_path: Path) -> dict[str, str]:
    # DATA_DIR points at an empty dir so a developer's .data/operator-token never leaks in.
    return {
        "IDENTITY_ADDR": identity_server.address,
        "IDENTITY_OPERATOR_TOKEN": identity_server.operator_token,
        "SCIM_PUBLIC_URL": PUBLIC_URL,
        "DATA_DIR": str(tmp_path),
    }


@pytest.fixture
def prov(service_channel: grpc.aio.Channel) -> pb_grpc.ProvisioningAsyncStub:
    return pb_grpc.ProvisioningStub(service_channel)
