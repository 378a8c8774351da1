"""The whole stack as separate processes, for third-party SCIM testers.

The testers are synchronous HTTP clients: they talk to `python -m gateway`
over TCP, which talks gRPC to `python -m identity_svc` on the session's
throwaway database. Nothing runs inside the test's event loop.

Each service's output goes to a file rather than a pipe: a pipe nobody reads
fills up after 64 KiB of request logs and then blocks the service.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0
_POLL_INTERVAL = 0.05


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Service:
    """A running service process and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 -- our own http URL
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(service: Service, needle: str, health_url: str | None) -> None:
    """Wait for the readiness line in the log, then (if given) for the health URL."""
    deadline = time.monotonic() + _START_TIMEOUT
    logged = False
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            break
        logged = logged or needle in service.log_path.read_text(errors="replace")
        if logged and (health_url is None or _healthy(health_url)):
            return
        time.sleep(_POLL_INTERVAL)
    raise AssertionError(
        f"{service.name} never became ready (wanted {needle!r}"
        f"{f' and 200 from {health_url}' if health_url else ''}; "
        f"exit code {service.process.poll()}):\n{service.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def _running(
    name: str,
    module: str,
    env: Mapping[str, str],
    log_path: Path,
    needle: str,
    health_url: str | None = None,
) -> Iterator[Service]:
    """Start `python -m module`, wait until it is ready, SIGTERM it on exit."""
    with (
        log_path.open("wb") as log,
        subprocess.Popen(  # noqa: S603 -- our own module, fixed arguments
            [sys.executable, "-m", module],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        service = Service(name, process, log_path)
        try:
            _wait_ready(service, needle, health_url)
            yield service
        finally:
            _stop(process)


@dataclass(frozen=True)
class LiveStack:
    """The identity service and the gateway, running as processes."""

    identity: Service
    gateway: Service
    cli_env: Mapping[str, str]

    def _identityctl(self, *args: str) -> str:
        result = subprocess.run(  # noqa: S603 -- our own CLI, fixed arguments
            [sys.executable, "-m", "identityctl", *args, "--json"],
            env=dict(self.cli_env),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, f"identityctl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def new_org(self) -> tuple[str, str]:
        """Onboard a fresh org with a SCIM key; return (scim_base_url, token)."""
        org = f"conformance-{secrets.token_hex(4)}"
        admin = f"admin@{org}.test"
        self._identityctl(
            "org", "create", org, "--name", org, "--admin-email", admin, "--sso-configured"
        )
        key = json.loads(
            self._identityctl("key", "create", org, "--name", "tester", "--actor", admin)
        )
        return str(key["scim_url"]), str(key["token"])

    def logs(self) -> str:
        """The recent output of both services, to make a red run readable."""
        return (
            f"--- gateway log (tail) ---\n{self.gateway.log_tail()}\n"
            f"--- identity service log (tail) ---\n{self.identity.log_tail()}"
        )


@pytest.fixture(scope="session")
def live_stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """`python -m identity_svc` and `python -m gateway` on free ports, stopped with SIGTERM."""
    logs = tmp_path_factory.mktemp("live-stack")
    identity_port, gateway_port = _free_port(), _free_port()
    operator_token = secrets.token_urlsafe(24)
    service_token = secrets.token_urlsafe(24)
    origin = f"http://127.0.0.1:{gateway_port}"
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "IDENTITY_", "GATEWAY_", "SCIM_"))
    }
    identity_env = {
        **base_env,
        "DATABASE_URL": database_url,
        "IDENTITY_HOST": "127.0.0.1",
        "IDENTITY_PORT": str(identity_port),
        "IDENTITY_OPERATOR_TOKEN": operator_token,
        "IDENTITY_SERVICE_TOKEN": service_token,
    }
    gateway_env = {
        **base_env,
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(gateway_port),
        "IDENTITY_ADDR": f"127.0.0.1:{identity_port}",
        "IDENTITY_SERVICE_TOKEN": service_token,
        "SCIM_PUBLIC_URL": origin,
    }
    cli_env = {
        **base_env,
        "IDENTITY_ADDR": f"127.0.0.1:{identity_port}",
        "IDENTITY_OPERATOR_TOKEN": operator_token,
        "SCIM_PUBLIC_URL": origin,
    }
    with (
        _running(
            "identity service",
            "identity_svc",
            identity_env,
            logs / "identity_svc.log",
            "listening on",
        ) as identity,
        _running(
            "gateway",
            "gateway",
            gateway_env,
            logs / "gateway.log",
            "gateway listening on",
            health_url=f"{origin}/healthz",
        ) as gateway,
    ):
        yield LiveStack(identity, gateway, cli_env)
