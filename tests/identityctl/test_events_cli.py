"""`identityctl events` against the real identity service on a real Postgres.

The one-shot forms run in a worker thread (the CLI's channel is synchronous);
`--follow` runs as a real process so Ctrl-C (SIGINT) can end it.
"""

from __future__ import annotations

import asyncio
import io
import json
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol
from uuid import uuid4

import asyncpg
import pytest

from identityctl.cli import run

ADMIN = "admin@example.test"
FIELDS = {
    "org_id",
    "seq",
    "type",
    "resource_type",
    "resource_id",
    "actor",
    "request_id",
    "occurred_at",
    "data",
}
WAIT_SECONDS = 15.0
ROOT = Path(__file__).resolve().parents[2]


class IdentityServer(Protocol):
    address: str
    operator_token: str


async def cli(env: Mapping[str, str], *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await asyncio.to_thread(run, list(argv), env, out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
async def org(env: dict[str, str]) -> str:
    """An org with a few events: its creation, then a key created and revoked."""
    org = f"ev-{uuid4().hex[:8]}"
    code, _, err = await cli(
        env, "org", "create", org, "--name", "Acme", "--admin-email", ADMIN, "--sso-configured"
    )
    assert code == 0, err
    code, out, err = await cli(
        env, "key", "create", org, "--name", "Okta", "--actor", ADMIN, "--json"
    )
    assert code == 0, err
    key_id = json.loads(out)["id"]
    code, _, err = await cli(env, "key", "revoke", org, key_id, "--actor", ADMIN)
    assert code == 0, err
    return org


async def stored(db_pool: asyncpg.Pool, org: str) -> list[tuple[int, str]]:
    rows = await db_pool.fetch("SELECT seq, type FROM events WHERE org_id = $1 ORDER BY seq", org)
    return [(row["seq"], row["type"]) for row in rows]


async def test_events_json_prints_one_object_per_line_in_seq_order(env, org, db_pool):
    code, out, err = await cli(env, "events", org, "--json")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(e["seq"], e["type"]) for e in lines] == await stored(db_pool, org)
    assert all(set(e) >= FIELDS for e in lines)
    revoked = next(e for e in lines if e["type"] == "key.revoked")
    assert (revoked["resource_type"], revoked["actor"]) == ("ScimKey", f"admin:{ADMIN}")
    assert revoked["data"] == {"name": "Okta"}
    assert revoked["occurred_at"].endswith("Z")


async def test_events_after_skips_what_was_seen(env, org, db_pool):
    code, out, err = await cli(env, "--json", "events", org, "--after", "2")
    assert code == 0, err
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [
        seq for seq, _ in await stored(db_pool, org) if seq > 2
    ]


async def test_events_text_is_one_readable_line_per_event(env, org, db_pool):
    code, out, err = await cli(env, "events", org)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == len(await stored(db_pool, org))
    assert "key.revoked" in lines[-1]
    assert f"by admin:{ADMIN}" in lines[-1]


async def test_events_of_an_unknown_org_is_an_error(env):
    code, out, err = await cli(env, "events", "no-such-org", "--json")
    assert (code, out) == (1, "")
    assert "not found" in err


async def _line(process: Any) -> dict[str, Any]:
    line = await asyncio.wait_for(process.stdout.readline(), WAIT_SECONDS)
    assert line, "identityctl ended early"
    result: dict[str, Any] = json.loads(line)
    return result


async def test_events_follow_prints_live_events_and_ctrl_c_exits_0(env, org, db_pool):
    last = (await stored(db_pool, org))[-1][0]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "identityctl",
        "events",
        org,
        "--after",
        str(last - 1),
        "--follow",
        "--json",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert (await _line(process))["seq"] == last  # the replay, then it waits
        code, _, err = await cli(env, "org", "sso", org, "--not-configured")
        assert code == 0, err
        live = await _line(process)
        assert (live["seq"], live["type"]) == (last + 1, "org.sso_changed")
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), WAIT_SECONDS) == 0
        assert process.stderr is not None
        assert b"Traceback" not in await process.stderr.read()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
