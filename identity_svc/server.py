"""The identity service's gRPC servers: the API (servicers, health, reflection), health-only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import asyncpg
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.events_hub import EventHub
from identity_svc.interceptors import OPERATOR, SERVICE, Callers, ServiceInterceptor
from identity_svc.servicers.admin import OrgAdminServicer
from identity_svc.servicers.directory import DirectoryServicer
from identity_svc.servicers.events import EventsServicer
from identity_svc.servicers.provisioning import ProvisioningServicer
from identity_svc.settings import Settings, Tls

SERVICE_NAMES = tuple(s.full_name for s in pb.DESCRIPTOR.services_by_name.values())


def _callers(settings: Settings) -> Callers:
    tokens = {settings.operator_token: OPERATOR, settings.service_token: SERVICE}
    tls = settings.tls
    if tls is None:
        return Callers(tokens)
    certificates = {name: SERVICE for name in tls.services}
    certificates.update({name: OPERATOR for name in tls.operators})
    return Callers(tokens, certificates, require_mtls=tls.require_mtls)


def server_credentials(tls: Tls) -> grpc.ServerCredentials:
    """TLS credentials from the PEM files; client certificates required under mTLS."""
    pair = (Path(tls.key_file).read_bytes(), Path(tls.cert_file).read_bytes())
    client_ca = Path(tls.client_ca_file).read_bytes() if tls.client_ca_file else None
    # grpcio can only ignore client certificates or require them: with a
    # client CA every connection must present one that the CA signed.
    return grpc.ssl_server_credentials(
        [pair], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


async def create_server(
    settings: Settings,
    pool: asyncpg.Pool,
    address: str,
    hub: EventHub | None = None,
    health_servicer: health.aio.HealthServicer | None = None,
    *,
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[grpc.aio.Server, int]:
    """A server bound to `address` (port 0 picks one); returns it and its port.

    `hub` is the process's LISTEN connection for the event streams; its owner
    starts and closes it. Without one, a hub is made that starts on first use.
    With `settings.tls` the port serves TLS (mutual with a client CA).
    `health_servicer`, when given, is shared with `create_health_server`.
    `interceptors` run outside the service's own (tests put faults in with them).
    """
    server = grpc.aio.server(interceptors=[*interceptors, ServiceInterceptor(_callers(settings))])
    pb_grpc.add_OrgAdminServicer_to_server(OrgAdminServicer(pool, settings.restore_window), server)
    pb_grpc.add_DirectoryServicer_to_server(DirectoryServicer(pool, settings.max_page_size), server)
    pb_grpc.add_ProvisioningServicer_to_server(
        ProvisioningServicer(pool, settings.max_page_size), server
    )
    pb_grpc.add_EventsServicer_to_server(
        EventsServicer(pool, hub or EventHub(settings.database_url)), server
    )
    health_servicer = health_servicer or health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    if settings.tls is None:
        return server, server.add_insecure_port(address)
    return server, server.add_secure_port(address, server_credentials(settings.tls))


def create_health_server(
    health_servicer: health.aio.HealthServicer, address: str
) -> tuple[grpc.aio.Server, int]:
    """A plaintext server of grpc.health.v1 only, for kubelet probes.

    It shares the API server's servicer, so both ports tell the same status,
    and it stays plaintext when the API port requires mutual TLS: it reveals
    nothing but SERVING or NOT_SERVING.
    """
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    return server, server.add_insecure_port(address)
