"""Prometheus metrics of one gateway app, on its own registry.

SPEC §9: requests are labelled by route template and IdP class, never by
raw path or raw user agent, so the series stay few whatever clients send.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from gateway.responses import Handler

UNMATCHED = "unmatched"


def idp_class(user_agent: str) -> str:
    """okta, entra or other: which identity provider a User-Agent names."""
    if "okta" in user_agent.lower():
        return "okta"
    if user_agent.startswith(("Microsoft", "Azure")) or "microsoft" in user_agent.lower():
        return "entra"
    return "other"


def route_template(request: web.Request) -> str:
    """The matched route's template, e.g. /scim/v2/{org}/Users/{id}; never the raw path."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # CPU, memory and open files of this process, as the default registry has.
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "scim_http_requests",
            "HTTP requests answered, by route template, method, status and IdP class.",
            ["route", "method", "status", "idp"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "scim_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and IdP class.",
            ["route", "method", "idp"],
            registry=self.registry,
        )
        self.auth_limited = Counter(
            "scim_auth_limited",
            "Requests refused by the failed-authentication limit, without a key lookup.",
            registry=self.registry,
        )
        self.request_log_dropped = Counter(
            "scim_request_log_dropped",
            "Request log entries not recorded: queue_full, unsent (the identity service "
            "refused or was unreachable) or error.",
            ["reason"],
            registry=self.registry,
        )
        self.rpcs = Counter(
            "grpc_client_handled",
            "Calls to the identity service, by method and status code.",
            ["grpc_method", "grpc_code"],
            registry=self.registry,
        )
        self.rpc_latency = Histogram(
            "grpc_client_handling_seconds",
            "Time of calls to the identity service, by method.",
            ["grpc_method"],
            registry=self.registry,
        )

    @contextmanager
    def rpc(self, method: str) -> Iterator[None]:
        """Count and time one call to the identity service."""
        start = time.perf_counter()
        code = grpc.StatusCode.OK
        try:
            yield
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            raise
        except BaseException:
            code = grpc.StatusCode.UNKNOWN
            raise
        finally:
            self.rpc_latency.labels(method).observe(time.perf_counter() - start)
            self.rpcs.labels(method, code.name).inc()

    def exposition(self) -> web.Response:
        """The registry in Prometheus text format."""
        return web.Response(
            body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )


METRICS = web.AppKey("metrics", GatewayMetrics)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost middleware: counts and times every answer, errors included."""
    metrics = request.app[METRICS]
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = route_template(request)
        idp = idp_class(request.headers.get("User-Agent", ""))
        metrics.latency.labels(route, request.method, idp).observe(time.perf_counter() - start)
        metrics.requests.labels(route, request.method, str(status), idp).inc()
