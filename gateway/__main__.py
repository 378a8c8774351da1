"""`python -m gateway`: serve SCIM over HTTP until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import os
import sys

from aiohttp import web

from gateway.app import create_app
from gateway.settings import ConfigError, Settings

log = logging.getLogger("gateway")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        sys.exit(f"gateway: {exc}")

    def announce(_banner: str) -> None:  # run_app calls it once the socket listens
        log.info("gateway listening on %s:%d", settings.host, settings.port)

    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=announce,
        access_log=None,
    )


if __name__ == "__main__":
    main()
