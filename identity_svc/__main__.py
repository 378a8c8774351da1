"""`python -m identity_svc`: migrate, then serve gRPC until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from identity_svc.db.migrate import migrate_dsn
from identity_svc.db.pool import create_pool
from identity_svc.events_hub import EventHub
from identity_svc.server import create_server
from identity_svc.settings import ConfigError, Settings

log = logging.getLogger("identity_svc")

# In-flight calls get this long to finish after a stop signal.
_STOP_GRACE_SECONDS = 10.0


def _transport(settings: Settings) -> str:
    """How the API port is protected, for the start-up log (names no file or secret)."""
    if settings.tls is None:
        return "plaintext"
    if not settings.tls.client_ca_file:
        return "TLS"
    return "mutual TLS, certificates only" if settings.tls.require_mtls else "mutual TLS"


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    await migrate_dsn(settings.database_url)
    pool = await create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
    )
    # The process's one LISTEN connection, shared by every event stream.
    hub = EventHub(settings.database_url)
    hub.start()
    try:
        address = f"{settings.host}:{settings.port}"
        server, port = await create_server(settings, pool, address, hub)
        await server.start()
        log.info(
            "identity service listening on %s:%d (%s)", settings.host, port, _transport(settings)
        )
        await stop.wait()
        log.info("stopping: draining in-flight calls")
        # Closing the hub first ends followed streams, which would otherwise
        # hold the drain for its whole grace period; consumers resume elsewhere.
        await hub.close()
        await server.stop(_STOP_GRACE_SECONDS)
    finally:
        await hub.close()
        await pool.close()


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        sys.exit(f"identity_svc: {exc}")
    asyncio.run(_main(settings))


if __name__ == "__main__":
    main()
