"""Internal callers over TLS and mutual TLS, end to end on real gRPC.

A throwaway CA signs the identity service's certificate and the clients'
certificates: "scim-gateway" (a DNS SAN, mapped to the service kind),
"identityctl" (a common name, mapped to the operator kind) and "stranger"
(mapped to nothing). Another CA signs a second "scim-gateway", which the
handshake must refuse. The servers share the suite's database.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import grpc
import pytest
import trustme
from aiohttp.test_utils import TestClient, TestServer
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway import settings as gateway_settings
from gateway.app import create_app
from gateway.revocations import REVOCATIONS
from identity_api.client_tls import IdentityTls
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.events_hub import EventHub
from identity_svc.server import create_server
from identity_svc.settings import Settings, Tls
from identityctl.cli import EXIT_OK, EXIT_USAGE, run
from tests.gateway.conftest import onboard

OPERATOR_TOKEN = secrets.token_urlsafe(24)
SERVICE_TOKEN = secrets.token_urlsafe(24)
OPERATOR_CTX = pb.RequestContext(actor=pb.Actor(operator=True), request_id="mtls-test")


@dataclass(frozen=True)
class Pair:
    """A client's certificate chain and key, as PEM files."""

    cert_file: str
    key_file: str

    def pem(self) -> tuple[bytes, bytes]:
        return Path(self.cert_file).read_bytes(), Path(self.key_file).read_bytes()


@dataclass(frozen=True)
class Pki:
    ca_file: str
    server: Pair
    service: Pair
    operator: Pair
    stranger: Pair
    foreign: Pair  # "scim-gateway", signed by another CA


def _write(cert: trustme.LeafCert, directory: Path, name: str) -> Pair:
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    for blob in cert.cert_chain_pems:
        blob.write_to_path(str(cert_file), append=True)
    cert.private_key_pem.write_to_path(str(key_file))
    return Pair(str(cert_file), str(key_file))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca, other_ca = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    return Pki(
        ca_file=str(directory / "ca.pem"),
        server=_write(ca.issue_cert("localhost", "127.0.0.1"), directory, "server"),
        service=_write(ca.issue_cert("scim-gateway"), directory, "service"),
        # Known by its common name only: its one SAN is mapped to nothing.
        operator=_write(
            ca.issue_cert("ops.internal", common_name="identityctl"), directory, "operator"
        ),
        stranger=_write(ca.issue_cert("stranger"), directory, "stranger"),
        foreign=_write(other_ca.issue_cert("scim-gateway"), directory, "foreign"),
    )


async def _serve(database_url: str, db_pool: asyncpg.Pool, tls: Tls) -> AsyncIterator[str]:
    settings = Settings(
        database_url=database_url,
        operator_token=OPERATOR_TOKEN,
        service_token=SERVICE_TOKEN,
        tls=tls,
    )
    hub = EventHub(database_url)
    hub.start()
    server, port = await create_server(settings, db_pool, "127.0.0.1:0", hub)
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(grace=None)
    await hub.close()


def _mtls(pki: Pki, *, require_mtls: bool = False) -> Tls:
    return Tls(
        cert_file=pki.server.cert_file,
        key_file=pki.server.key_file,
        client_ca_file=pki.ca_file,
        operators=frozenset({"identityctl"}),
        services=frozenset({"scim-gateway"}),
        require_mtls=require_mtls,
    )


@pytest.fixture(scope="module")
async def mtls_server(pki: Pki, database_url: str, db_pool: asyncpg.Pool) -> AsyncIterator[str]:
    async for address in _serve(database_url, db_pool, _mtls(pki)):
        yield address


@pytest.fixture(scope="module")
async def strict_server(pki: Pki, database_url: str, db_pool: asyncpg.Pool) -> AsyncIterator[str]:
    """IDENTITY_REQUIRE_MTLS: bearer tokens are ignored."""
    async for address in _serve(database_url, db_pool, _mtls(pki, require_mtls=True)):
        yield address


@pytest.fixture(scope="module")
async def tls_server(pki: Pki, database_url: str, db_pool: asyncpg.Pool) -> AsyncIterator[str]:
    """TLS without client certificates: tokens are the only credential."""
    tls = Tls(cert_file=pki.server.cert_file, key_file=pki.server.key_file)
    async for address in _serve(database_url, db_pool, tls):
        yield address


def _channel(pki: Pki, address: str, client: Pair | None) -> grpc.aio.Channel:
    ca = Path(pki.ca_file).read_bytes()
    cert, key = client.pem() if client else (None, None)
    credentials = grpc.ssl_channel_credentials(ca, private_key=key, certificate_chain=cert)
    return grpc.aio.secure_channel(address, credentials)


def _bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def _create_org(pki: Pki, address: str) -> str:
    org = f"mtls-{uuid.uuid4().hex[:10]}"
    async with _channel(pki, address, pki.operator) as channel:
        await pb_grpc.OrgAdminStub(channel).CreateOrg(
            pb.CreateOrgRequest(
                context=OPERATOR_CTX, org_id=org, name="Acme", admin_email="a@acme.test"
            )
        )
    return org


async def _code(call: Awaitable[Any]) -> grpc.StatusCode:
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


async def test_the_service_certificate_may_provision_and_read_the_directory(pki, mtls_server):
    org = await _create_org(pki, mtls_server)
    async with _channel(pki, mtls_server, pki.service) as channel:
        users = await pb_grpc.ProvisioningStub(channel).ListUsers(pb.ListUsersRequest(org_id=org))
        members = await pb_grpc.DirectoryStub(channel).ListMembers(
            pb.ListMembersRequest(org_id=org)
        )
        admin = pb_grpc.OrgAdminStub(channel).GetOrg(pb.GetOrgRequest(org_id=org))
        assert await _code(admin) is grpc.StatusCode.UNAUTHENTICATED
    # The org admin named at creation is its one member so far.
    assert (users.total_results, members.total_results) == (1, 1)


async def test_the_operator_certificate_may_administer(pki, mtls_server):
    org = await _create_org(pki, mtls_server)
    async with _channel(pki, mtls_server, pki.operator) as channel:
        got = await pb_grpc.OrgAdminStub(channel).GetOrg(pb.GetOrgRequest(org_id=org))
    assert got.id == org


async def test_a_certificate_of_no_known_caller_is_unauthenticated(pki, mtls_server):
    async with _channel(pki, mtls_server, pki.stranger) as channel:
        call = pb_grpc.ProvisioningStub(channel).ListUsers(pb.ListUsersRequest(org_id="acme"))
        assert await _code(call) is grpc.StatusCode.UNAUTHENTICATED


async def test_a_certificate_of_another_ca_fails_the_handshake(pki, mtls_server):
    async with _channel(pki, mtls_server, pki.foreign) as channel:
        call = pb_grpc.ProvisioningStub(channel).ListUsers(
            pb.ListUsersRequest(org_id="acme"), timeout=5
        )
        assert await _code(call) is grpc.StatusCode.UNAVAILABLE


async def test_a_valid_token_still_suffices_beside_a_certificate(pki, mtls_server):
    org = await _create_org(pki, mtls_server)
    async with _channel(pki, mtls_server, pki.stranger) as channel:
        users = await pb_grpc.ProvisioningStub(channel).ListUsers(
            pb.ListUsersRequest(org_id=org), metadata=_bearer(SERVICE_TOKEN)
        )
        # The service certificate plus the operator token: the token proves the operator.
    async with _channel(pki, mtls_server, pki.service) as channel:
        got = await pb_grpc.OrgAdminStub(channel).GetOrg(
            pb.GetOrgRequest(org_id=org), metadata=_bearer(OPERATOR_TOKEN)
        )
    assert (users.total_results, got.id) == (1, org)


async def test_health_answers_any_certificate_of_the_ca(pki, mtls_server):
    async with _channel(pki, mtls_server, pki.stranger) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_require_mtls_refuses_a_token_without_a_client_certificate(pki, strict_server):
    async with _channel(pki, strict_server, None) as channel:
        call = pb_grpc.ProvisioningStub(channel).ListUsers(
            pb.ListUsersRequest(org_id="acme"), metadata=_bearer(SERVICE_TOKEN), timeout=5
        )
        assert await _code(call) is grpc.StatusCode.UNAVAILABLE


async def test_require_mtls_ignores_tokens_beside_a_certificate(pki, strict_server):
    org = await _create_org(pki, strict_server)
    async with _channel(pki, strict_server, pki.stranger) as channel:
        call = pb_grpc.ProvisioningStub(channel).ListUsers(
            pb.ListUsersRequest(org_id=org), metadata=_bearer(SERVICE_TOKEN)
        )
        assert await _code(call) is grpc.StatusCode.UNAUTHENTICATED
    async with _channel(pki, strict_server, pki.service) as channel:
        admin = pb_grpc.OrgAdminStub(channel).GetOrg(
            pb.GetOrgRequest(org_id=org), metadata=_bearer(OPERATOR_TOKEN)
        )
        assert await _code(admin) is grpc.StatusCode.UNAUTHENTICATED
        users = await pb_grpc.ProvisioningStub(channel).ListUsers(pb.ListUsersRequest(org_id=org))
    assert users.total_results == 1


async def test_tls_without_client_ca_takes_tokens_and_refuses_plaintext(pki, tls_server):
    async with _channel(pki, tls_server, None) as channel:
        stub = pb_grpc.ProvisioningStub(channel)
        users = await stub.ListUsers(
            pb.ListUsersRequest(org_id="acme"), metadata=_bearer(SERVICE_TOKEN)
        )
        anonymous = stub.ListUsers(pb.ListUsersRequest(org_id="acme"))
        assert await _code(anonymous) is grpc.StatusCode.UNAUTHENTICATED
    async with grpc.aio.insecure_channel(tls_server) as plaintext:
        call = pb_grpc.ProvisioningStub(plaintext).ListUsers(
            pb.ListUsersRequest(org_id="acme"), metadata=_bearer(SERVICE_TOKEN), timeout=5
        )
        assert await _code(call) is grpc.StatusCode.UNAVAILABLE
    assert users.total_results == 0


async def test_the_gateway_talks_to_the_service_by_its_certificate_alone(pki, mtls_server):
    async with _channel(pki, mtls_server, pki.operator) as operator:
        tenant = await onboard(operator)
    settings = gateway_settings.Settings(
        # No service token: the client certificate is the credential, and
        # cursors need a secret of their own.
        identity_addr=mtls_server,
        cursor_secret="mtls-only-cursor-secret-0123456789abcdef",
        identity_tls=IdentityTls(
            ca_file=pki.ca_file,
            cert_file=pki.service.cert_file,
            key_file=pki.service.key_file,
            server_name="localhost",
        ),
    )
    app = create_app(settings)
    async with TestClient(TestServer(app)) as http:
        response = await http.get(f"{tenant.base}/Users", headers=tenant.headers())
        assert response.status == 200, await response.text()
        # The revocation watcher's own channel is mutual TLS too.
        await asyncio.wait_for(app[REVOCATIONS].connected.wait(), timeout=10)


async def _identityctl(env: dict[str, str], *argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run, list(argv), env, out, err)
    return code, out.getvalue() + err.getvalue()


async def test_identityctl_authenticates_with_its_certificate(pki, mtls_server, tmp_path):
    env = {
        "IDENTITY_ADDR": mtls_server,
        "IDENTITY_TLS_CA_FILE": pki.ca_file,
        "IDENTITY_TLS_CERT_FILE": pki.operator.cert_file,
        "IDENTITY_TLS_KEY_FILE": pki.operator.key_file,
        "DATA_DIR": str(tmp_path),  # no dev token to fall back on
    }
    org = f"mtls-{uuid.uuid4().hex[:10]}"
    create = ("org", "create", org, "--name", "Acme", "--admin-email", "a@acme.test", "--json")
    code, output = await _identityctl(env, *create)
    assert code == EXIT_OK, output
    stranger = {
        **env,
        "IDENTITY_TLS_CERT_FILE": pki.stranger.cert_file,
        "IDENTITY_TLS_KEY_FILE": pki.stranger.key_file,
    }
    code, output = await _identityctl(stranger, "org", "show", org)
    assert code == EXIT_USAGE
    assert "IDENTITY_MTLS_OPERATORS" in output
