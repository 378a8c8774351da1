"""Shared test setup: a real Postgres, a throwaway database, a real gRPC server.

Nothing here mocks the database or gRPC; the server listens on port 0.
The embedded Postgres starts once per session (TEST_DATABASE_URL points the
suite at another server instead); each session gets a fresh database.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
import pytest
from hypothesis import settings as hypothesis_settings

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection
    from identity_svc.events_hub import EventHub
    from identity_svc.sequencer import Sequencer

os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())

# Hypothesis profiles (SPEC §9), chosen by HYPOTHESIS_PROFILE, else by CI:
# "ci" (what .ci/run uses, CI=true) is derandomized, so a red run replays the
# same examples; "dev" (the default locally) draws new examples on every run,
# so local runs keep exploring. Neither has a deadline: nobody here asserts timing.
hypothesis_settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
hypothesis_settings.register_profile("dev", deadline=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a server where the suite may create databases."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    from identity_svc import embedded_postgres

    data_dir = Path(tempfile.mkdtemp(prefix="graphos-scim-test-pg-"))
    server = embedded_postgres.start(data_dir, throwaway=True)
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()


def _with_database(dsn: str, database: str) -> str:
    # The embedded server's DSN is postgresql://user:@/postgres?host=/socket/dir
    base, sep, query = dsn.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{database}{sep}{query}"


@pytest.fixture(scope="session")
async def database_url(postgres_dsn: str) -> str:
    """A fresh, migrated database for this session."""
    from identity_svc.db.migrate import migrate_dsn

    name = f"graphos_scim_test_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = _with_database(postgres_dsn, name)
    await migrate_dsn(url)
    return url


@pytest.fixture(scope="session")
async def db_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    from identity_svc.db.pool import create_pool

    pool = await create_pool(database_url, min_size=2, max_size=40)
    yield pool
    await pool.close()


@pytest.fixture
async def conn(db_pool: asyncpg.Pool) -> AsyncIterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    async with db_pool.acquire() as connection:
        tx = connection.transaction()
        await tx.start()
        try:
            yield connection
        finally:
            await tx.rollback()


@dataclass(frozen=True)
class IdentityServer:
    address: str
    operator_token: str
    service_token: str
    hub: EventHub  # the process's LISTEN connection, for tests that break it
    sequencer: Sequencer  # numbers the events the session's writes stage


@pytest.fixture(scope="session")
async def identity_server(
    database_url: str, db_pool: asyncpg.Pool
) -> AsyncIterator[IdentityServer]:
    """The real identity service, on a free port, in the test's event loop."""
    from identity_svc.events_hub import EventHub
    from identity_svc.sequencer import Sequencer
    from identity_svc.server import create_server
    from identity_svc.settings import Settings

    settings = Settings(
        database_url=database_url,
        operator_token=secrets.token_urlsafe(24),
        service_token=secrets.token_urlsafe(24),
        max_page_size=200,
    )
    hub = EventHub(database_url)
    hub.start()
    sequencer = Sequencer(db_pool)
    sequencer.start()
    server, port = await create_server(settings, db_pool, "127.0.0.1:0", hub)
    await server.start()
    yield IdentityServer(
        f"127.0.0.1:{port}", settings.operator_token, settings.service_token, hub, sequencer
    )
    await server.stop(grace=None)
    await sequencer.close()
    await hub.close()


def _bearer_channel(address: str, token: str) -> grpc.aio.Channel:
    class _Bearer(grpc.aio.UnaryUnaryClientInterceptor):
        async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
            metadata = [*(details.metadata or []), ("authorization", f"Bearer {token}")]
            return await continuation(details._replace(metadata=metadata), request)

    class _BearerStream(grpc.aio.UnaryStreamClientInterceptor):
        async def intercept_unary_stream(
            self, continuation: Any, details: Any, request: Any
        ) -> Any:
            metadata = [*(details.metadata or []), ("authorization", f"Bearer {token}")]
            return await continuation(details._replace(metadata=metadata), request)

    return grpc.aio.insecure_channel(address, interceptors=[_Bearer(), _BearerStream()])


@pytest.fixture(scope="session")
async def operator_channel(identity_server: IdentityServer) -> AsyncIterator[grpc.aio.Channel]:
    channel = _bearer_channel(identity_server.address, identity_server.operator_token)
    yield channel
    await channel.close()


@pytest.fixture(scope="session")
async def service_channel(identity_server: IdentityServer) -> AsyncIterator[grpc.aio.Channel]:
    channel = _bearer_channel(identity_server.address, identity_server.service_token)
    yield channel
    await channel.close()
