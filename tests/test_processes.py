"""The services as processes: `python -m identity_svc` and `make run`'s stack.

Both start, serve, and stop cleanly on SIGTERM (the stack takes its embedded
Postgres down with it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

from devstack.processes import free_port

_START_TIMEOUT = 60.0


def _wait_for_line(process: subprocess.Popen[str], needle: str) -> list[str]:
    """Read the process's output until a line containing `needle` appears."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        lines.append(line)
        if needle in line:
            return lines
    process.kill()
    raise AssertionError(f"never printed {needle!r}:\n{''.join(lines)}")


def _identityctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 -- our own CLI, fixed arguments
        [sys.executable, "-m", "identityctl", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _start(module: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 -- our own module
        [sys.executable, "-m", module],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _scim_get(port: int, path: str, token: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)


def _stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM) -> int:
    process.send_signal(signum)
    return process.wait(timeout=30)


def test_identity_service_serves_and_stops_on_sigterm(database_url: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "IDENTITY_PORT": str(port),
        "IDENTITY_OPERATOR_TOKEN": "operator-token-for-process-test",
        "IDENTITY_HEALTH_PORT": "0",
        "IDENTITY_METRICS_PORT": "0",
        "SHUTDOWN_DELAY_SECONDS": "0",
    }
    with _start("identity_svc", env) as process:
        _wait_for_line(process, "listening on")
        shown = _identityctl(
            {**env, "IDENTITY_ADDR": f"127.0.0.1:{port}"}, "org", "show", "no-such-org", "--json"
        )
        assert _stop(process) == 0
    assert shown.returncode == 1
    assert "not found" in shown.stderr


def test_identity_service_refuses_to_start_without_configuration() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    result = subprocess.run(
        [sys.executable, "-m", "identity_svc"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode != 0
    assert "DATABASE_URL is required" in result.stderr


def _postgres_running_in(data_dir: Path) -> bool:
    for proc in psutil.process_iter(attrs=("name", "cmdline")):
        if proc.info["name"] == "postgres" and str(data_dir) in " ".join(
            proc.info["cmdline"] or []
        ):
            return True
    return False


@pytest.mark.timeout(180)
def test_make_run_stack_onboards_an_org_and_stops_everything() -> None:
    # Under /tmp: as root, pgserver opens up every parent folder of its data dir.
    data_dir = Path(tempfile.mkdtemp(prefix="graphos-scim-stack-"))
    port, http_port, console_port = free_port(), free_port(), free_port()
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DATABASE_URL", "IDENTITY_", "GATEWAY_", "CONSOLE_"))
        },
        "DATA_DIR": str(data_dir),
        "IDENTITY_PORT": str(port),
        "IDENTITY_HEALTH_PORT": "0",
        "IDENTITY_METRICS_PORT": "0",
        "GATEWAY_PORT": str(http_port),
        "SCIM_PUBLIC_URL": "https://scim.example.test",
        "CONSOLE_PORT": str(console_port),
    }
    with _start("devstack", env) as process:
        try:
            banner = "".join(_wait_for_line(process, "Ctrl-C stops everything"))
            assert "https://scim.example.test/scim/v2/<org>" in banner
            assert _postgres_running_in(data_dir)
            cli_env = {**env, "IDENTITY_ADDR": f"127.0.0.1:{port}"}
            created = _identityctl(
                cli_env,
                "org",
                "create",
                "acme",
                "--name",
                "Acme",
                "--admin-email",
                "admin@acme.test",
                "--admin-given-name",
                "Avery",
                "--admin-family-name",
                "Admin",
                "--sso-configured",
                "--json",
            )
            assert created.returncode == 0, created.stderr
            assert "warning" not in created.stderr  # named: Okta's Spec Test will pass
            key = _identityctl(
                cli_env,
                "key",
                "create",
                "acme",
                "--name",
                "Okta",
                "--actor",
                "admin@acme.test",
                "--json",
            )
            assert key.returncode == 0, key.stderr
            assert json.loads(key.stdout)["scim_url"] == "https://scim.example.test/scim/v2/acme"
            listed = _scim_get(http_port, "/scim/v2/acme/Users", json.loads(key.stdout)["token"])
            assert listed["totalResults"] == 1
            assert listed["Resources"][0]["name"]["givenName"] == "Avery"
            assert oct((data_dir / "operator-token").stat().st_mode & 0o777) == "0o600"
            # The console runs too, and the banner's console-link command signs in to it.
            assert f"http://127.0.0.1:{console_port}" in banner
            assert "identityctl console-link acme --actor admin@acme.example" in banner
            cli_env["CONSOLE_PUBLIC_URL"] = f"http://127.0.0.1:{console_port}"
            link = _identityctl(
                cli_env, "console-link", "acme", "--actor", "admin@acme.test", "--json"
            )
            assert link.returncode == 0, link.stderr
            with urllib.request.urlopen(json.loads(link.stdout)["url"], timeout=10) as page:  # noqa: S310
                assert "Sign in to the console" in page.read().decode()
        finally:
            exit_code = _stop(process, signal.SIGINT)  # what Ctrl-C sends
    assert exit_code == 0
    assert not _postgres_running_in(data_dir)
    shutil.rmtree(data_dir)
