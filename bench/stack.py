"""The stack under test, as separate processes on free loopback ports.

Embedded Postgres (throwaway: durability off), migrations, then
`python -m identity_svc` and `python -m gateway`, and an org with a SCIM key
onboarded through `identityctl` (plus any extra orgs the scenarios ask for,
each with its own key, the same way). Everything is stopped on the way out, also
after an error or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from devstack import processes
from identity_svc import embedded_postgres
from identity_svc.db.migrate import migrate_dsn

# High enough that the gateway's per-key limiter never shapes the load.
_UNLIMITED = "1000000"
# identityctl runs concurrently for the extra orgs: each run is mostly start-up.
_ONBOARDING_THREADS = 4


@dataclass(frozen=True)
class Org:
    org_id: str
    scim_url: str
    token: str


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
    # The extra orgs, by the name the scenarios asked for them.
    orgs: Mapping[str, Org] = field(default_factory=dict)

    def log_tails(self, lines: int = 30) -> str:
        return "\n".join(
            f"--- {log.name} (last {lines} lines) ---\n{processes.tail(log, lines)}"
            for log in sorted(self.log_dir.glob("*.log"))
        )


@contextlib.contextmanager
def running_stack(work_dir: Path, extra_orgs: Sequence[str] = ()) -> Iterator[Stack]:
    """Start Postgres, both services and an org (plus `extra_orgs`); stop them all on exit."""
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
        names = [org, *(f"{org}-{name}" for name in extra_orgs)]
        with ThreadPoolExecutor(_ONBOARDING_THREADS) as threads:
            keys = list(
                threads.map(lambda name: processes.onboard(env.cli, name, key_name="bench"), names)
            )
        (scim_url, token), extra = keys[0], keys[1:]
        orgs = {
            name: Org(org_id, url, key)
            for name, org_id, (url, key) in zip(extra_orgs, names[1:], extra, strict=True)
        }
        pids = {
            "gateway": services.gateway.pid,
            "identity_svc": services.identity.pid,
            "postgres": postgres.get_pid(),
        }
        yield Stack(database_url, org, scim_url, token, pids, work_dir, orgs)
