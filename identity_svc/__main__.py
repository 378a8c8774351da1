"""`python -m identity_svc`: migrate, then serve gRPC until SIGTERM/SIGINT.

Besides the API port: a plaintext health-only gRPC port (kubelet probes) and
Prometheus /metrics over HTTP. On the signal every service turns NOT_SERVING,
calls are still served for SHUTDOWN_DELAY_SECONDS, then the API port stops
accepting and in-flight calls get IDENTITY_DRAIN_SECONDS before the pool closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from datetime import timedelta

import grpc
import uvloop
from grpc_health.v1 import health
from prometheus_client import REGISTRY

from identity_svc.db.migrate import migrate_dsn
from identity_svc.db.pool import create_pool
from identity_svc.events_hub import EventHub
from identity_svc.metrics import PoolCollector, start_metrics_server
from identity_svc.purger import Purger
from identity_svc.request_log_purge import RequestLogPurger
from identity_svc.sequencer import Sequencer
from identity_svc.server import create_health_server, create_server
from identity_svc.settings import ConfigError, Settings
from json_logs import configure_logging

log = logging.getLogger("identity_svc")


def _transport(settings: Settings) -> str:
    """How the API port is protected, for the start-up log (names no file or secret)."""
    if settings.tls is None:
        return "plaintext"
    if not settings.tls.client_ca_file:
        return "TLS"
    return "mutual TLS, certificates only" if settings.tls.require_mtls else "mutual TLS"


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    await migrate_dsn(settings.database_url)
    async with contextlib.AsyncExitStack() as resources:
        pool = await create_pool(
            settings.database_url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            command_timeout=settings.db_command_timeout,
        )
        resources.push_async_callback(pool.close)
        # The process's one LISTEN connection, shared by every event stream.
        hub = EventHub(settings.database_url)
        hub.start()
        resources.push_async_callback(hub.close)
        # Numbers the events this process's writes stage (and sweeps for others').
        sequencer = Sequencer(pool)
        sequencer.start()
        resources.push_async_callback(sequencer.close)
        # Removes deleted members once their restore window has passed.
        purger = Purger(pool, settings.restore_window, settings.purge_interval_seconds)
        purger.start()
        resources.push_async_callback(purger.close)
        # Keeps the request log within its retention and per-org cap.
        log_purger = RequestLogPurger(
            pool,
            timedelta(days=settings.request_log_retention_days),
            settings.request_log_max_per_org,
        )
        log_purger.start()
        resources.push_async_callback(log_purger.close)
        REGISTRY.register(pool_metrics := PoolCollector(pool))
        resources.callback(REGISTRY.unregister, pool_metrics)
        metrics_runner, metrics_port = await start_metrics_server(
            settings.host, settings.metrics_port
        )
        resources.push_async_callback(metrics_runner.cleanup)
        health_servicer = health.aio.HealthServicer()
        health_server, health_port = create_health_server(
            health_servicer, f"{settings.host}:{settings.health_port}"
        )
        await health_server.start()
        resources.push_async_callback(health_server.stop, None)
        address = f"{settings.host}:{settings.port}"
        server, port = await create_server(settings, pool, address, hub, health_servicer)
        await server.start()
        log.info(
            "identity service listening on %s:%d (%s); health on %d, metrics on %d",
            settings.host,
            port,
            _transport(settings),
            health_port,
            metrics_port,
        )
        await stop.wait()
        await _drain(settings, server, health_servicer, hub)
    log.info("stopped")


async def _drain(
    settings: Settings,
    server: grpc.aio.Server,
    health_servicer: health.aio.HealthServicer,
    hub: EventHub,
) -> None:
    await health_servicer.enter_graceful_shutdown()
    log.info("stopping: NOT_SERVING; serving %.1f s more", settings.shutdown_delay_seconds)
    await asyncio.sleep(settings.shutdown_delay_seconds)
    log.info("stopping: no new calls; draining in-flight calls")
    # Closing the hub first ends followed streams, which would otherwise
    # hold the drain for its whole grace period; consumers resume elsewhere.
    await hub.close()
    await server.stop(settings.drain_seconds)


async def _main(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)


def main() -> None:
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        sys.exit(f"identity_svc: {exc}")
    configure_logging(settings.log_format)
    uvloop.run(_main(settings))  # measured faster than asyncio's loop (python -m bench)


if __name__ == "__main__":
    main()
