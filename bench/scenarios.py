"""Each scenario twice, back to back: SCIM over HTTP, then the asyncpg ceiling.

Running both sides of a ratio one right after the other keeps them under the
same conditions on a noisy machine (SPEC §8: measured in the same run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench import ceiling, scim
from bench.host import Processes
from bench.load import Failed, Operation, Run, Stats, drive
from bench.profiles import Profile
from bench.sampling import sampled
from bench.seed import SeedUser
from bench.stack import Stack

# Warm-up operations use indices far from the measured ones (unique userNames).
_WARMUP_FIRST_INDEX = 10_000_000

SCENARIOS = (
    ("get_by_id", "GET /Users/{id}"),
    ("filter_user_name", 'GET /Users?filter=userName eq "..."'),
    ("create_user", "POST /Users"),
    ("put_user", "PUT /Users/{id}"),
    ("list_page", "GET /Users?startIndex=K&count=100"),
    ("group_add_member", "PATCH /Groups/{id} add 1 member"),
)
LABELS = dict(SCENARIOS)


@dataclass(frozen=True)
class Context:
    profile: Profile
    client: scim.ScimClient
    pool: asyncpg.Pool
    org_id: str
    users: Sequence[SeedUser]
    processes: Processes
    run_id: str
    # The whole stack (its extra orgs), the HTTP session and the run's folder,
    # for the sections beyond the SCIM-vs-asyncpg pairs.
    stack: Stack
    session: aiohttp.ClientSession
    work_dir: Path
    pids: Mapping[str, int] = field(default_factory=dict)
    # py-spy samples each SCIM run into this folder, if set (--profile).
    sample_dir: Path | None = None


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    scim: Stats
    ceiling: Stats
    failures: tuple[Failed, ...]
    # CPU time each process spent per SCIM request, in ms.
    cpu_ms_per_request: dict[str, float]

    @property
    def ratio(self) -> float:
        return self.scim.rate / self.ceiling.rate if self.ceiling.rate else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "request": LABELS[self.name],
            "scim": self.scim.as_dict(),
            "asyncpg": self.ceiling.as_dict(),
            "ratio": round(self.ratio, 3),
            "errors": [f.as_dict() for f in self.failures],
            "cpu_ms_per_request": {k: round(v, 2) for k, v in self.cpu_ms_per_request.items()},
        }


@dataclass(frozen=True)
class Slice:
    first: int  # 1-based number of the first add in the slice
    last: int
    scim: Stats
    ceiling: Stats

    def as_dict(self) -> dict[str, Any]:
        ratio = self.scim.rate / self.ceiling.rate if self.ceiling.rate else 0.0
        return {
            "adds": [self.first, self.last],
            "scim": self.scim.as_dict(),
            "asyncpg": self.ceiling.as_dict(),
            "ratio": round(ratio, 3),
        }


def _pair(ctx: Context, name: str) -> tuple[Operation, Operation]:
    client, pool, org, users = ctx.client, ctx.pool, ctx.org_id, ctx.users
    match name:
        case "get_by_id":
            return scim.get_by_id(client, users), ceiling.get_by_id(pool, org, users)
        case "filter_user_name":
            return (
                scim.filter_user_name(client, users),
                ceiling.filter_user_name(pool, org, users),
            )
        case "create_user":
            return scim.create_user(client, ctx.run_id), ceiling.create_user(pool, org, ctx.run_id)
        case "put_user":
            return scim.put_user(client, users), ceiling.put_user(pool, org, users)
        case "list_page":
            return scim.list_page(client, users), ceiling.list_page(pool, org, users)
    raise ValueError(f"no such scenario: {name}")


async def _measured(
    ctx: Context,
    name: str,
    operation: Operation,
    count: int,
    time_limit_s: float,
    concurrency: int | None = None,
) -> tuple[Run, dict[str, float]]:
    """Run the operations; also returns the CPU ms per operation of each process."""
    before = ctx.processes.cpu_snapshot()
    with sampled(ctx.pids, ctx.sample_dir, name):
        run = await drive(operation, count, concurrency or ctx.profile.concurrency, time_limit_s)
    spent = Processes.cpu_spent(before, ctx.processes.cpu_snapshot())
    done = max(1, len(run.outcomes))
    return run, {role: seconds * 1000 / done for role, seconds in spent.items()}


@dataclass(frozen=True)
class Measured:
    """One measured run of a section beyond the pairs: stats, failures, CPU."""

    stats: Stats
    failures: tuple[Failed, ...]
    cpu_ms_per_request: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        cpu = {k: round(v, 2) for k, v in self.cpu_ms_per_request.items()}
        return {**self.stats.as_dict(), "cpu_ms_per_request": cpu}


async def measure(
    ctx: Context,
    name: str,
    operation: Operation,
    count: int,
    *,
    concurrency: int | None = None,
    time_limit_s: float | None = None,
    warmup: int | None = None,
) -> Measured:
    """Warm up (not reported), then run and measure `count` operations.

    Warm-up operations get indices from _WARMUP_FIRST_INDEX on; pass warmup=0
    for operations whose index must stay in range.
    """
    limit = time_limit_s or ctx.profile.time_limit_s
    in_flight = concurrency or ctx.profile.concurrency
    warm = ctx.profile.warmup if warmup is None else warmup
    if warm:
        await drive(operation, warm, in_flight, limit, _WARMUP_FIRST_INDEX)
    run, cpu = await _measured(ctx, name, operation, count, limit, in_flight)
    return Measured(run.stats(), tuple(run.failures), cpu)


async def run_scenario(ctx: Context, name: str) -> ScenarioResult:
    profile = ctx.profile
    scim_operation, ceiling_operation = _pair(ctx, name)
    for operation in (scim_operation, ceiling_operation):
        await drive(operation, profile.warmup, profile.concurrency, 30.0, _WARMUP_FIRST_INDEX)
    run, cpu = await _measured(
        ctx, name, scim_operation, profile.requests(name), profile.time_limit_s
    )
    raw = await drive(
        ceiling_operation, profile.requests(name), profile.concurrency, profile.time_limit_s / 2
    )
    return ScenarioResult(name, run.stats(), raw.stats(), tuple(run.failures + raw.failures), cpu)


async def run_growing_group(ctx: Context) -> tuple[ScenarioResult, list[Slice]]:
    """One group gets one member per PATCH; the same adds then go straight to SQL."""
    profile, members = ctx.profile, ctx.users[: ctx.profile.group_members]
    group_id = await scim.create_group(ctx.client, f"bench-growing-{ctx.run_id}")
    run, cpu = await _measured(
        ctx,
        "group_add_member",
        scim.add_member(ctx.client, group_id, members),
        len(members),
        profile.group_time_limit_s,
    )
    raw_group = await ceiling.create_group(ctx.pool, ctx.org_id, f"ceiling-{ctx.run_id}")
    raw = await drive(
        ceiling.add_member(ctx.pool, ctx.org_id, raw_group, members),
        len(members),
        profile.concurrency,
        profile.group_time_limit_s / 2,
    )
    slices = [
        Slice(
            first + 1,
            min(first + profile.group_slice, len(members)),
            run.slice_stats(first, first + profile.group_slice),
            raw.slice_stats(first, first + profile.group_slice),
        )
        for first in range(0, len(members), profile.group_slice)
    ]
    result = ScenarioResult(
        "group_add_member", run.stats(), raw.stats(), tuple(run.failures + raw.failures), cpu
    )
    return result, slices


async def run_all(ctx: Context) -> tuple[list[ScenarioResult], list[Slice]]:
    results = [await run_scenario(ctx, name) for name, _ in SCENARIOS[:-1]]
    group, slices = await run_growing_group(ctx)
    return [*results, group], slices
