"""`python -m gateway`: serve SCIM over HTTP until SIGTERM/SIGINT.

On the signal: /readyz answers 503 at once, requests are still served for
SHUTDOWN_DELAY_SECONDS (load balancers stop sending), then the listener
closes and in-flight requests get GATEWAY_DRAIN_SECONDS to finish before the
gRPC channel closes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

import uvloop
from aiohttp import web

from gateway.app import create_app
from gateway.http_server import ScimAppRunner
from gateway.keys import READINESS
from gateway.settings import ConfigError, Settings
from json_logs import configure_logging

log = logging.getLogger("gateway")


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    app = create_app(settings)
    runner = ScimAppRunner(app, access_log=None, shutdown_timeout=settings.drain_seconds)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else settings.port
        log.info("gateway listening on %s:%d", settings.host, port)
        await stop.wait()
        app[READINESS].shutting_down = True
        log.info("stopping: not ready; serving %.1f s more", settings.shutdown_delay_seconds)
        await asyncio.sleep(settings.shutdown_delay_seconds)
        log.info("stopping: no new connections; draining in-flight requests")
    finally:
        # Closes the listener, waits up to drain_seconds for handlers, then
        # runs the cleanup contexts (the gRPC channel, the revocation watcher).
        await runner.cleanup()
    log.info("stopped")


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
        sys.exit(f"gateway: {exc}")
    configure_logging(settings.log_format)
    uvloop.run(_main(settings))  # measured faster than asyncio's loop (python -m bench)


if __name__ == "__main__":
    main()
