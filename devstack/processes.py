"""The stack's services as child processes on loopback ports.

One implementation for everything that runs `python -m identity_svc` and
`python -m gateway` as real processes (the benchmark, the third-party
conformance tests): free ports, the three environments, start-up until ready,
SIGTERM on the way out, and org onboarding through `identityctl`.

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
from typing import Any

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 60.0
_POLL_S = 0.05
# Settings the parent may carry that must not leak into a service we configure.
_SCRUBBED_PREFIXES = ("DATABASE_URL", "IDENTITY_", "GATEWAY_", "SCIM_")


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 60) -> str:
    """The last `lines` lines of a log file."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class Service:
    """A running `python -m module` and the file its output goes to."""

    module: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)


@dataclass(frozen=True)
class StackEnv:
    """The environments of the identity service, the gateway and `identityctl`.

    Built from the parent's environment minus every DATABASE_URL, IDENTITY_*,
    GATEWAY_* and SCIM_* variable, so only what is set here configures the stack.
    """

    identity: Mapping[str, str]
    gateway: Mapping[str, str]
    cli: Mapping[str, str]
    origin: str  # the gateway's base URL, e.g. http://127.0.0.1:PORT

    @classmethod
    def on_loopback(
        cls,
        database_url: str,
        identity_port: int,
        gateway_port: int,
        *,
        gateway_settings: Mapping[str, str] | None = None,
    ) -> StackEnv:
        """Both services on 127.0.0.1 with fresh operator and service tokens.

        `gateway_settings` adds to (or overrides) the gateway's environment,
        e.g. its rate limits.
        """
        operator_token = secrets.token_urlsafe(24)
        service_token = secrets.token_urlsafe(24)
        origin = f"http://127.0.0.1:{gateway_port}"
        identity_addr = f"127.0.0.1:{identity_port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
        identity = {
            **base,
            "DATABASE_URL": database_url,
            "IDENTITY_HOST": "127.0.0.1",
            "IDENTITY_PORT": str(identity_port),
            "IDENTITY_OPERATOR_TOKEN": operator_token,
            "IDENTITY_SERVICE_TOKEN": service_token,
            # Free ports for the health-only and metrics servers; no grace
            # delay on SIGTERM (no load balancer to wait for).
            "IDENTITY_HEALTH_PORT": "0",
            "IDENTITY_METRICS_PORT": "0",
            "SHUTDOWN_DELAY_SECONDS": "0",
        }
        gateway = {
            **base,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(gateway_port),
            "IDENTITY_ADDR": identity_addr,
            "IDENTITY_SERVICE_TOKEN": service_token,
            "SCIM_PUBLIC_URL": origin,
            "SHUTDOWN_DELAY_SECONDS": "0",
            **(gateway_settings or {}),
        }
        cli = {
            **base,
            "IDENTITY_ADDR": identity_addr,
            "IDENTITY_OPERATOR_TOKEN": operator_token,
            "SCIM_PUBLIC_URL": origin,
        }
        return cls(identity, gateway, cli, origin)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 -- our loopback URL
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(service: Service, ready_line: str, health_url: str | None) -> None:
    """Wait for `ready_line` in the log, then (if given) for a 200 from `health_url`."""
    deadline = time.monotonic() + START_TIMEOUT_S
    logged = False
    while time.monotonic() < deadline and service.process.poll() is None:
        logged = logged or ready_line in service.log_path.read_text(errors="replace")
        if logged and (health_url is None or _healthy(health_url)):
            return
        time.sleep(_POLL_S)
    raise RuntimeError(
        f"{service.module} never became ready (wanted {ready_line!r}"
        f"{f' and 200 from {health_url}' if health_url else ''}; "
        f"exit code {service.process.poll()}):\n{service.log_tail()}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, wait for a clean exit, and kill only if that takes too long."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def service(
    module: str,
    env: Mapping[str, str],
    log_path: Path,
    ready_line: str,
    health_url: str | None = None,
    *,
    new_session: bool = False,
) -> Iterator[Service]:
    """Run `python -m module` until ready, and stop it on the way out.

    `new_session` puts the child in its own session, so a Ctrl-C in the
    terminal reaches only the parent, which then stops its services in order.

    Raises:
        RuntimeError: the service exited, or was not ready in time; the
            message carries the tail of its log.
    """
    with (
        log_path.open("wb") as log,
        subprocess.Popen(  # noqa: S603 -- our own module, fixed arguments
            [sys.executable, "-m", module],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        ) as process,
    ):
        running = Service(module, process, log_path)
        try:
            _wait_ready(running, ready_line, health_url)
            yield running
        finally:
            stop(process)


@dataclass(frozen=True)
class Services:
    identity: Service
    gateway: Service


@contextlib.contextmanager
def identity_and_gateway(
    env: StackEnv, log_dir: Path, *, new_session: bool = False
) -> Iterator[Services]:
    """Both services, logging to `log_dir`; the gateway is stopped first."""
    with (
        service(
            "identity_svc",
            env.identity,
            log_dir / "identity_svc.log",
            "listening on",
            new_session=new_session,
        ) as identity,
        service(
            "gateway",
            env.gateway,
            log_dir / "gateway.log",
            "gateway listening on",
            health_url=f"{env.origin}/healthz",
            new_session=new_session,
        ) as gateway,
    ):
        yield Services(identity, gateway)


def identityctl(env: Mapping[str, str], *args: str) -> dict[str, Any]:
    """Run `identityctl ARGS --json` and return its JSON answer.

    Raises:
        RuntimeError: the command failed; the message carries its stderr.
    """
    result = subprocess.run(  # noqa: S603 -- our own CLI, fixed arguments
        [sys.executable, "-m", "identityctl", *args, "--json"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"identityctl {' '.join(args)} failed: {result.stderr}")
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def onboard(cli_env: Mapping[str, str], org: str, key_name: str = "scim") -> tuple[str, str]:
    """Create an org (SSO configured) and a SCIM key; return (scim_url, token)."""
    admin = f"admin@{org}.test"
    identityctl(
        cli_env,
        "org", "create", org, "--name", org, "--admin-email", admin, "--sso-configured",
        # Named, as every member should be (SPEC §5): testers read the first user.
        "--admin-given-name", "Org", "--admin-family-name", "Admin",
    )  # fmt: skip
    key = identityctl(cli_env, "key", "create", org, "--name", key_name, "--actor", admin)
    return str(key["scim_url"]), str(key["token"])
