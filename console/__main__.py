"""`python -m console` (graphos-scim-console): serve the org admin console until SIGTERM."""

from __future__ import annotations

import logging
import os
import sys

from aiohttp import web

from console.app import create_app
from console.settings import Settings
from identityctl.settings import ConfigError
from json_logs import configure_logging

log = logging.getLogger("console")

# On SIGTERM, requests in flight get this long (deploy/base/console.yaml's
# grace period is above it): pages are quick, nothing streams.
DRAIN_SECONDS = 10.0


def main() -> None:
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        sys.exit(f"console: {exc}")
    configure_logging(settings.log_format)
    log.info("console listening on http://%s:%d", settings.host, settings.port)
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=None,
        print=None,
        shutdown_timeout=DRAIN_SECONDS,
    )


if __name__ == "__main__":
    main()
