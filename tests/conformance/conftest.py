"""The whole stack as separate processes, for third-party SCIM testers.

The testers are synchronous HTTP clients: they talk to `python -m gateway`
over TCP, which talks gRPC to `python -m identity_svc` on the session's
throwaway database. Nothing runs inside the test's event loop.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest

from devstack import processes


@dataclass(frozen=True)
class LiveStack:
    """The identity service and the gateway, running as processes."""

    identity: processes.Service
    gateway: processes.Service
    cli_env: Mapping[str, str]

    def new_org(self) -> tuple[str, str]:
        """Onboard a fresh org with a SCIM key; return (scim_base_url, token)."""
        org = f"conformance-{secrets.token_hex(4)}"
        scim = processes.onboard(self.cli_env, org, key_name="tester")
        # A tester deactivates and deletes dozens of users within minutes, which is
        # what the deprovisioning brake exists to stop; an operator turns it off
        # for a test org (README "When the IdP goes wrong").
        admin = f"admin@{org}.test"
        processes.identityctl(self.cli_env, "deprovisioning", "set", org, "--off", "--actor", admin)
        return scim

    def logs(self) -> str:
        """The recent output of both services, to make a red run readable."""
        return (
            f"--- gateway log (tail) ---\n{self.gateway.log_tail()}\n"
            f"--- identity service log (tail) ---\n{self.identity.log_tail()}"
        )


@pytest.fixture(scope="session")
def live_stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """`python -m identity_svc` and `python -m gateway` on free ports, stopped with SIGTERM."""
    env = processes.StackEnv.on_loopback(database_url, processes.free_port(), processes.free_port())
    log_dir = tmp_path_factory.mktemp("live-stack")
    with processes.identity_and_gateway(env, log_dir) as services:
        yield LiveStack(services.identity, services.gateway, env.cli)
