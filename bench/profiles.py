"""How much work each run does: the full bench, `--quick` and `--smoke`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    # Users bulk-inserted before any scenario runs (the data requests do not touch).
    seed_users: int
    get_by_id: int
    filter_user_name: int
    create_user: int
    put_user: int
    list_page: int
    # The growing group: this many one-member PATCHes, reported per slice.
    group_members: int
    group_slice: int
    # No SCIM run lasts longer than this, whatever its count; the raw asyncpg
    # run of a scenario (same count, ~10x faster) gets half as long.
    time_limit_s: float
    group_time_limit_s: float
    # Requests run before each measured run and not reported (connections, caches).
    warmup: int
    concurrency: int = 16
    pool_size: int = 10  # the identity service's default pool size

    def requests(self, scenario: str) -> int:
        count: int = getattr(self, scenario)
        return count


FULL = Profile(
    name="full",
    seed_users=20_000,
    get_by_id=20_000,
    filter_user_name=20_000,
    create_user=12_000,
    put_user=10_000,
    list_page=2000,
    group_members=5000,
    group_slice=500,
    time_limit_s=30.0,
    group_time_limit_s=90.0,
    warmup=100,
)

QUICK = Profile(
    name="quick",
    seed_users=5000,
    get_by_id=8000,
    filter_user_name=8000,
    create_user=5000,
    put_user=4000,
    list_page=600,
    group_members=1000,
    group_slice=250,
    time_limit_s=10.0,
    group_time_limit_s=25.0,
    warmup=50,
)

# Structure only: every scenario runs a handful of requests (tests/test_bench_smoke.py).
SMOKE = Profile(
    name="smoke",
    seed_users=150,
    get_by_id=10,
    filter_user_name=10,
    create_user=10,
    put_user=10,
    list_page=10,
    group_members=12,
    group_slice=4,
    time_limit_s=10.0,
    group_time_limit_s=10.0,
    warmup=2,
    concurrency=4,
)
