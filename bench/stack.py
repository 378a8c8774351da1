"""The stack under test, as separate processes on free loopback ports.

Embedded Postgres (throwaway: durability off), migrations, then
`python -m identity_svc` and `python -m gateway`, and an org with a SCIM key
onboarded through `identityctl`. Everything is stopped on the way out, also
after an error or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from devstack import processes
from identity_svc import embedded_postgres
from identity_svc.db.migrate import migrate_dsn

# High enough that the gateway's per-key limiter never shapes the load.
_UNLIMITED = "1000000"


@dataclass(frozen=True)
class Stack:
    database_url: str
    org_id: str
    scim_url: str  # the org's SCIM base URL, e.g. http://127.0.0.1:PORT/scim/v2/ORG
    token: str
    # Process ids by role; "postgres" is the postmaster (its backends are its children).
    pids: Mapping[str, int]
    # Where the services' output goes (gateway.log, identity_svc.log).
    log_dir: Path

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(
            f"--- {log.name} (last {lines} lines) ---\n{processes.tail(log, lines)}"
            for log in sorted(self.log_dir.glob("*.log"))
        )


@contextlib.contextmanager
def running_stack(work_dir: Path) -> Iterator[Stack]:
    """Start Postgres, both services and an org; stop them all on exit."""
    with contextlib.ExitStack() as cleanup:
        # Under /tmp: as root, pgserver opens up every parent folder of its data dir.
        postgres = embedded_postgres.start(work_dir / "postgres", throwaway=True)
        cleanup.callback(postgres.cleanup)
        database_url = str(postgres.get_uri())
        asyncio.run(migrate_dsn(database_url))
        env = processes.StackEnv.on_loopback(
            database_url,
            processes.free_port(),
            processes.free_port(),
            gateway_settings={
                "SCIM_RATE_LIMIT_PER_SECOND": _UNLIMITED,
                "SCIM_RATE_LIMIT_BURST": _UNLIMITED,
            },
        )
        # Own sessions: Ctrl-C reaches only the bench, which then stops the services in order.
        services = cleanup.enter_context(
            processes.identity_and_gateway(env, work_dir, new_session=True)
        )
        org = f"bench-{secrets.token_hex(3)}"
        scim_url, token = processes.onboard(env.cli, org, key_name="bench")
        pids = {
            "gateway": services.gateway.pid,
            "identity_svc": services.identity.pid,
            "postgres": postgres.get_pid(),
        }
        yield Stack(database_url, org, scim_url, token, pids, work_dir)
