"""python-scim's in-memory `scim2-server` as a reference, under the same load (SPEC §8).

It runs as its own process: the `main()` of `scim2_server.testserver.cli`,
the function behind the package's `scim2-server` console script, on a free
loopback port, with RFC 7643's default schemas and resource types (User,
Group) and one static bearer token. It is a threaded WSGI server (wsgiref)
that answers HTTP/1.0 and closes each connection, and it keeps everything in
memory. One change: its listen backlog is 5 (socketserver's default), and with
a new connection per request, 16 clients connecting at once overflow it, so
some SYNs are dropped and retried a second later (p99 ~1 s). That is a
property of the load, not of the server, so the backlog is raised to 128
before `main()` runs. The same load client, with the same concurrency, creates its users
through its own API (Okta's body), then GETs them by id and creates more.
Our figures are the same run's `GET /Users/{id}` and `POST /Users`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import json
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import scim
from bench.host import Processes
from bench.load import Operation, drive
from bench.scenarios import Context, Measured, ScenarioResult, measure
from bench.seed import SeedUser, okta_user
from devstack import processes

PACKAGE = "scim2-server"
# `scim2-server ARGS` with a listen backlog fit for 16 connections at once.
_LAUNCH = (
    "import socketserver, sys\n"
    "socketserver.TCPServer.request_queue_size = 128\n"
    "from scim2_server.testserver.cli import main\n"
    "sys.exit(main())\n"
)
ROLE = "scim2-server"
_READY_LINE = "Serving SCIM on"
_START_TIMEOUT_S = 60.0
_POLL_S = 0.05
# Our server side in the comparison: the stack's processes (not the bench client).
STACK_ROLES = ("gateway", "identity_svc", "postgres")


@dataclass(frozen=True)
class Reference:
    url: str  # the SCIM base URL, http://127.0.0.1:PORT/v2
    token: str
    pid: int
    version: str


def available() -> bool:
    return importlib.util.find_spec("scim2_server") is not None


def _answers(url: str, token: str) -> bool:
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 -- our loopback URL
    try:
        with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 -- our loopback URL
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def running_reference(work_dir: Path) -> Iterator[Reference]:
    """scim2-server on a free loopback port until the block ends."""
    port = processes.free_port()
    token = secrets.token_urlsafe(18)
    url = f"http://127.0.0.1:{port}/v2"
    command = [sys.executable, "-c", _LAUNCH, "--hostname", "127.0.0.1", "--port", str(port)]
    log_path = work_dir / "scim2_server.log"
    with (
        log_path.open("wb") as log,
        subprocess.Popen(  # noqa: S603 -- a fixed command line of our own
            [*command, f"--bearer-token={token}"],  # a token may start with "-"
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the bench, which stops it
        ) as process,
    ):
        try:
            deadline = time.monotonic() + _START_TIMEOUT_S
            while not (
                _READY_LINE in log_path.read_text(errors="replace")
                and _answers(f"{url}/ServiceProviderConfig", token)
            ):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{PACKAGE} did not start (exit code {process.poll()}):\n"
                        f"{processes.tail(log_path)}"
                    )
                time.sleep(_POLL_S)
            yield Reference(url, token, process.pid, importlib.metadata.version(PACKAGE))
        finally:
            processes.stop(process)


def _creates_kept(client: scim.ScimClient, prefix: str, kept: list[SeedUser]) -> Operation:
    """POST Okta's body; keeps each user created, to GET it later."""

    async def operation(index: int) -> None:
        user_name = f"{prefix}.{index}@bench.example"
        body = okta_user(user_name, "Reference", f"User{index}", f"{prefix}-{index}")
        answer = json.loads(await client.call("POST", "/Users", body=body, expect=(201,)))
        kept.append(SeedUser(answer["id"], user_name, body["externalId"]))

    return operation


def _stack_cpu(cpu: Mapping[str, float]) -> float:
    return round(sum(cpu.get(role, 0.0) for role in STACK_ROLES), 2)


def _row(name: str, request: str, ours: ScenarioResult, theirs: Measured) -> dict[str, Any]:
    ratio = ours.scim.rate / theirs.stats.rate if theirs.stats.rate else 0.0
    return {
        "name": name,
        "request": request,
        "ours": {
            **ours.scim.as_dict(),
            "cpu_ms_per_request": {k: round(v, 2) for k, v in ours.cpu_ms_per_request.items()},
            "server_cpu_ms_per_request": _stack_cpu(ours.cpu_ms_per_request),
        },
        "scim2_server": {
            **theirs.as_dict(),
            "server_cpu_ms_per_request": round(theirs.cpu_ms_per_request.get(ROLE, 0.0), 2),
        },
        "ratio": round(ratio, 3),
    }


async def run_reference(ctx: Context, ours: Mapping[str, ScenarioResult]) -> dict[str, Any]:
    profile = ctx.profile
    with running_reference(ctx.work_dir) as reference:
        client = scim.ScimClient(ctx.session, reference.url, reference.token)
        # CPU of its process (and of the bench client); py-spy samples only our stack.
        local = dataclasses.replace(
            ctx, processes=Processes({ROLE: reference.pid}), pids={}, sample_dir=None
        )
        users: list[SeedUser] = []
        seeding = await drive(
            _creates_kept(client, f"reference.{ctx.run_id}", users),
            profile.reference_users,
            profile.concurrency,
            profile.time_limit_s,
        )
        count = profile.reference_requests
        get = await measure(local, "reference.get_by_id", scim.get_by_id(client, users), count)
        create = await measure(
            local, "reference.create_user", scim.create_user(client, f"{ctx.run_id}-ref"), count
        )
    failures = [*seeding.failures, *get.failures, *create.failures]
    return {
        "server": f"{PACKAGE} {reference.version}",
        "users_created_first": len(users),
        "rows": [
            _row("get_by_id", "GET /Users/{id}", ours["get_by_id"], get),
            _row("create_user", "POST /Users", ours["create_user"], create),
        ],
        "errors": [f.as_dict() for f in failures],
    }
