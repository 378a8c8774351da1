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
    # scim2-server, the in-memory reference: users created through its API
    # first (to GET), then this many GETs and this many creates.
    reference_users: int
    reference_requests: int
    # Creates into one org, then the same creates spread over this many orgs.
    spread_orgs: int
    spread_creates: int
    # Size independence: a small org beside the big one (seed_users), each
    # lookup this many times, each page position this many times (one at a
    # time), and the walk over the last 5 pages this many times.
    small_org_users: int
    size_lookups: int
    size_pages: int
    size_walks: int
    # A group grown by bulk insert to each checkpoint; at each, this many
    # member adds, as many removes (the same users) and GETs without members.
    big_group_checkpoints: tuple[int, ...]
    big_group_requests: int
    # Okta's group import page: this many groups of this many members, the
    # page read this many times with members and without.
    import_groups: int
    import_members: int
    import_requests: int
    import_excluded_requests: int
    concurrency: int = 16
    pool_size: int = 10  # the identity service's default pool size

    def requests(self, scenario: str) -> int:
        count: int = getattr(self, scenario)
        return count

    @property
    def group_org_users(self) -> int:
        """Users of the org holding the big group and the import groups.

        The big group's members plus the users its adds and removes move in
        and out, and enough distinct users for every import group.
        """
        biggest = max(self.big_group_checkpoints) + self.big_group_requests
        return max(biggest, self.import_groups * self.import_members)


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
    reference_users=2000,
    reference_requests=10_000,
    spread_orgs=8,
    spread_creates=6000,
    small_org_users=1000,
    size_lookups=2000,
    size_pages=20,
    size_walks=5,
    big_group_checkpoints=(10, 1000, 10_000, 100_000),
    big_group_requests=48,
    import_groups=100,
    import_members=1000,
    import_requests=10,
    import_excluded_requests=40,
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
    reference_users=500,
    reference_requests=3000,
    spread_orgs=8,
    spread_creates=2000,
    small_org_users=1000,
    size_lookups=500,
    size_pages=8,
    size_walks=3,
    big_group_checkpoints=(10, 1000, 10_000),
    big_group_requests=32,
    import_groups=100,
    import_members=100,
    import_requests=5,
    import_excluded_requests=20,
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
    reference_users=10,
    reference_requests=10,
    spread_orgs=2,
    spread_creates=8,
    small_org_users=50,
    size_lookups=6,
    size_pages=2,
    size_walks=1,
    big_group_checkpoints=(10, 100),
    big_group_requests=4,
    import_groups=4,
    import_members=10,
    import_requests=2,
    import_excluded_requests=2,
    concurrency=4,
)
