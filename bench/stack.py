"""The stack under test, as separate processes on free loopback ports.

Embedded Postgres (throwaway: durability off), migrations, then
`python -m identity_svc` and `python -m gateway`, and an org with a SCIM key
onboarded through `identityctl`. Everything is stopped on the way out, also
after an error or Ctrl-C.
"""

from __future__ import annotations

import asyncio
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

from identity_svc import embedded_postgres
from identity_svc.db.migrate import migrate_dsn

_START_TIMEOUT_S = 60.0
_STOP_TIMEOUT_S = 30.0
_POLL_S = 0.05
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
            f"--- {log.name} (last {lines} lines) ---\n{_tail(log, lines)}"
            for log in sorted(self.log_dir.glob("*.log"))
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 -- our loopback URL
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_ready(
    process: subprocess.Popen[bytes], log: Path, needle: str, health_url: str | None
) -> None:
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        if needle in log.read_text(errors="replace") and (
            health_url is None or _healthy(health_url)
        ):
            return
        time.sleep(_POLL_S)
    raise RuntimeError(
        f"{' '.join(process.args)} never became ready (exit code {process.poll()}):\n{_tail(log)}"  # type: ignore[arg-type]
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def _service(
    module: str, env: Mapping[str, str], log: Path, needle: str, health_url: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m module` with its output in `log`; SIGTERM on the way out."""
    with (
        log.open("wb") as out,
        subprocess.Popen(  # noqa: S603 -- our own module, fixed arguments
            [sys.executable, "-m", module],
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Ctrl-C reaches only the bench, which then stops the services in order.
            start_new_session=True,
        ) as process,
    ):
        try:
            _wait_ready(process, log, needle, health_url)
            yield process
        finally:
            _stop(process)


def _identityctl(env: Mapping[str, str], *args: str) -> dict[str, str]:
    result = subprocess.run(  # noqa: S603 -- our own CLI, fixed arguments
        [sys.executable, "-m", "identityctl", *args, "--json"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"identityctl {' '.join(args)} failed: {result.stderr}")
    answer: dict[str, str] = json.loads(result.stdout)
    return answer


def _onboard(cli_env: Mapping[str, str], org: str) -> tuple[str, str]:
    """Create an org and a SCIM key; returns (scim_url, token)."""
    admin = f"admin@{org}.test"
    _identityctl(
        cli_env, "org", "create", org, "--name", "Bench", "--admin-email", admin, "--sso-configured"
    )
    key = _identityctl(cli_env, "key", "create", org, "--name", "bench", "--actor", admin)
    return key["scim_url"], key["token"]


def _environments(
    database_url: str, identity_port: int, gateway_port: int
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Environments of the identity service, the gateway and identityctl."""
    operator_token = secrets.token_urlsafe(24)
    service_token = secrets.token_urlsafe(24)
    origin = f"http://127.0.0.1:{gateway_port}"
    identity_addr = f"127.0.0.1:{identity_port}"
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "IDENTITY_", "GATEWAY_", "SCIM_"))
    }
    identity = {
        **base,
        "DATABASE_URL": database_url,
        "IDENTITY_HOST": "127.0.0.1",
        "IDENTITY_PORT": str(identity_port),
        "IDENTITY_OPERATOR_TOKEN": operator_token,
        "IDENTITY_SERVICE_TOKEN": service_token,
    }
    gateway = {
        **base,
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(gateway_port),
        "IDENTITY_ADDR": identity_addr,
        "IDENTITY_SERVICE_TOKEN": service_token,
        "SCIM_PUBLIC_URL": origin,
        "SCIM_RATE_LIMIT_PER_SECOND": _UNLIMITED,
        "SCIM_RATE_LIMIT_BURST": _UNLIMITED,
    }
    cli = {
        **base,
        "IDENTITY_ADDR": identity_addr,
        "IDENTITY_OPERATOR_TOKEN": operator_token,
        "SCIM_PUBLIC_URL": origin,
    }
    return identity, gateway, cli


@contextlib.contextmanager
def running_stack(work_dir: Path) -> Iterator[Stack]:
    """Start Postgres, both services and an org; stop them all on exit."""
    with contextlib.ExitStack() as cleanup:
        # Under /tmp: as root, pgserver opens up every parent folder of its data dir.
        postgres = embedded_postgres.start(work_dir / "postgres", throwaway=True)
        cleanup.callback(postgres.cleanup)
        database_url = str(postgres.get_uri())
        asyncio.run(migrate_dsn(database_url))
        identity_port, gateway_port = _free_port(), _free_port()
        identity_env, gateway_env, cli_env = _environments(
            database_url, identity_port, gateway_port
        )
        identity = cleanup.enter_context(
            _service("identity_svc", identity_env, work_dir / "identity_svc.log", "listening on")
        )
        gateway = cleanup.enter_context(
            _service(
                "gateway",
                gateway_env,
                work_dir / "gateway.log",
                "gateway listening on",
                health_url=f"http://127.0.0.1:{gateway_port}/healthz",
            )
        )
        org = f"bench-{secrets.token_hex(3)}"
        scim_url, token = _onboard(cli_env, org)
        pids = {
            "gateway": gateway.pid,
            "identity_svc": identity.pid,
            "postgres": postgres.get_pid(),
        }
        yield Stack(database_url, org, scim_url, token, pids, work_dir)
