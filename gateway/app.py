"""create_app: the aiohttp application, its middlewares, routes and resources."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.auth import auth_middleware
from gateway.auth_limit import FailedAuthLimiter
from gateway.cursors import CursorSeal
from gateway.identity_client import IdentityClient, open_channel
from gateway.key_cache import Clock, KeyCache
from gateway.keys import (
    AUTH_LIMITER,
    CURSORS,
    IDENTITY,
    KEY_CACHE,
    OPENAPI,
    RATE_LIMITER,
    READINESS,
    SETTINGS,
)
from gateway.metrics import METRICS, GatewayMetrics, metrics_middleware
from gateway.openapi import rendered
from gateway.rate_limit import RateLimiter
from gateway.readiness import Readiness
from gateway.request_log import record_requests, request_log_middleware
from gateway.responses import error_middleware
from gateway.revocations import watch_revocations
from gateway.routes import setup_routes
from gateway.settings import Settings
from gateway.url_checks import url_middleware


async def _identity_channel(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    channel = open_channel(settings)
    app[IDENTITY] = IdentityClient(channel, settings, app[METRICS])
    yield
    await channel.close()


def create_app(
    settings: Settings, clock: Clock = time.monotonic, wall_clock: Clock = time.time
) -> web.Application:
    """The gateway; tests pass fake clocks.

    `clock` times key trust and rate limits within this process; `wall_clock`
    dates cursors, which any replica may be asked to honour.
    """
    # Metrics are outermost, so they count every answer; the request log is
    # next, so it records each answer as sent, errors rendered; error
    # handling is next, so auth failures are SCIM errors too; the URL is
    # judged only for an authenticated caller.
    app = web.Application(
        middlewares=[
            metrics_middleware,
            request_log_middleware,
            error_middleware,
            auth_middleware,
            url_middleware,
        ],
        client_max_size=settings.max_body_bytes,
    )
    app[SETTINGS] = settings
    app[METRICS] = GatewayMetrics()
    app[READINESS] = Readiness()
    app[KEY_CACHE] = KeyCache(settings.key_cache_seconds, clock)
    app[RATE_LIMITER] = RateLimiter(
        settings.rate_limit_per_second, settings.rate_limit_burst, clock
    )
    app[AUTH_LIMITER] = FailedAuthLimiter(
        settings.auth_failure_budget, settings.auth_failure_window_seconds, clock
    )
    app[CURSORS] = CursorSeal(settings.cursor_key(), settings.cursor_timeout_seconds, wall_clock)
    app[OPENAPI] = rendered()
    app.cleanup_ctx.append(_identity_channel)
    # Revoked keys leave the cache the moment their event arrives (SPEC §6).
    app.cleanup_ctx.append(watch_revocations)
    # After the channel's context, so the last flush at shutdown still has it.
    app.cleanup_ctx.append(record_requests)
    setup_routes(app)
    return app
