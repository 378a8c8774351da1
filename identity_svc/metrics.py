"""Prometheus metrics of the identity service, served on their own HTTP port.

gRPC calls are counted and timed by the interceptor, events by
`db.events.append_events`; the pool's gauges are read at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import grpc
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

GRPC_HANDLED = Counter(
    "grpc_server_handled",
    "gRPC calls completed, by service, method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time to complete a gRPC call (a stream: its whole life), by service and method.",
    ["grpc_service", "grpc_method"],
)
EVENTS_WRITTEN = Counter(
    "identity_events_written",
    "Change-log events written, by type (counted as written, before their commit).",
    ["type"],
)

TRANSACTION_RETRIES = Counter(
    "identity_transaction_retries",
    "Write transactions Postgres aborted and run_write ran again, by reason"
    " (deadlock, serialization): locks taken in one order keep deadlocks at zero.",
    ["reason"],
)


def split_method(full_method: str) -> tuple[str, str]:
    """Service and method of "/identity_api.v1.Provisioning/CreateUser"."""
    service, _, method = full_method.lstrip("/").partition("/")
    return service, method


def code_name(code: object) -> str:
    """The name of a status code as grpc.aio reports it (None: the call succeeded)."""
    if code is None:
        return "OK"
    if isinstance(code, grpc.StatusCode):
        return code.name
    for known in grpc.StatusCode:
        if known.value[0] == code:
            return known.name
    return "UNKNOWN"


class PoolCollector(Collector):
    """The asyncpg pool's size and use, read when Prometheus scrapes."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        size, idle = self._pool.get_size(), self._pool.get_idle_size()
        yield GaugeMetricFamily(
            "identity_db_pool_size", "Open connections in the pool.", value=size
        )
        yield GaugeMetricFamily(
            "identity_db_pool_max_size",
            "Most connections the pool opens.",
            value=self._pool.get_max_size(),
        )
        connections = GaugeMetricFamily(
            "identity_db_pool_connections", "Pool connections by state.", labels=["state"]
        )
        connections.add_metric(["idle"], idle)
        connections.add_metric(["in_use"], size - idle)
        yield connections


async def _metrics(request: web.Request) -> web.Response:
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def start_metrics_server(host: str, port: int) -> tuple[web.AppRunner, int]:
    """GET /metrics on `host:port` (0 picks a port); returns the runner and the port."""
    app = web.Application()
    app.router.add_get("/metrics", _metrics, allow_head=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])
