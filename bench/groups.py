"""Large groups: member changes on a group grown to 100k, and Okta's group import page.

Both run in an org of their own ("groups"), whose users, groups and
memberships are bulk-inserted as the identity service stores them
(bench/seed.py). The big group runs first and is deleted at its end (over
SCIM), so the import page then lists the import groups only. In the other
order, the import page's reads of 100,000 members leave a generic plan for the
members query behind in the identity service's prepared statements, which then
slows the answers to PATCHes on small groups: that would blur what the big
group measures.

Big group: one group, created over SCIM, is grown by bulk insert to each
checkpoint (10, 1k, 10k, 100k members). At each one, `big_group_requests`
PATCHes add one non-member each, the same number remove those users again (so
the size stays put), then as many `GET /Groups/{id}?excludedAttributes=members`;
one request at a time, since all of them lock the same group row. SPEC §8:
the figures should not move with the group's size.

Import page: `import_groups` groups of `import_members` distinct members each
(100 x 1,000), then `GET /Groups?startIndex=1&count=100` with members, as
Okta's group import reads it, and the same page with
`excludedAttributes=members`; one at a time. The size of the answer and the
RSS of the gateway and the identity service before, at their highest during
(polled every 20 ms) and after each are reported too.
"""

from __future__ import annotations

import statistics
import uuid
from typing import Any

import asyncpg

from bench import scim, seed
from bench.host import PeakRss, rss_mb
from bench.load import Failed
from bench.scenarios import Context, Measured, measure
from bench.seed import SeededUsers

_GROUP_STATE = """
SELECT g.member_count,
    (SELECT count(*) FROM group_members gm WHERE gm.org_id = g.org_id AND gm.group_id = g.id)
FROM groups g
WHERE g.org_id = $1 AND g.id = $2
"""

_RSS_ROLES = ("gateway", "identity_svc")


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else 0.0


async def _check_size(pool: asyncpg.Pool, org_id: str, group_id: str, wanted: int) -> list[Failed]:
    """After adds and removes: the group holds `wanted` rows and says so on its row."""
    row = await pool.fetchrow(_GROUP_STATE, org_id, uuid.UUID(group_id))
    counted, rows = (row[0], row[1]) if row else (None, None)
    if counted == rows == wanted:
        return []
    body = f"member_count {counted}, {rows} membership rows, wanted {wanted}"
    return [Failed(f"group {group_id} after adds and removes", "state", body)]


async def run_big_group(
    ctx: Context, client: scim.ScimClient, org_id: str, users: SeededUsers
) -> dict[str, Any]:
    profile = ctx.profile
    checkpoints = sorted(profile.big_group_checkpoints)
    biggest = checkpoints[-1]
    movers = users[biggest : biggest + profile.big_group_requests]  # never members otherwise
    group_id = await scim.create_group(client, f"bench-big-{ctx.run_id}")
    rows: list[dict[str, Any]] = []
    failures: list[Failed] = []
    members = 0
    for checkpoint in checkpoints:
        await seed.add_members(ctx.pool, org_id, uuid.UUID(group_id), users[members:checkpoint])
        members = checkpoint
        await seed.settle(ctx.pool, "groups", "group_members")
        runs: dict[str, Measured] = {}
        for name, operation, warmup in (
            ("add", scim.add_member(client, group_id, movers), 0),
            ("remove", scim.remove_member(client, group_id, movers), 0),
            ("get", scim.get_group_without_members(client, group_id), None),
        ):
            runs[name] = await measure(
                ctx,
                f"big_group.{checkpoint}.{name}",
                operation,
                len(movers),
                concurrency=1,
                time_limit_s=profile.group_time_limit_s,
                warmup=warmup,
            )
            failures += runs[name].failures
        failures += await _check_size(ctx.pool, org_id, group_id, checkpoint)
        rows.append({"members": checkpoint, **{k: v.as_dict() for k, v in runs.items()}})
    # Gone before the import page, so that page holds only the import groups.
    await client.call("DELETE", f"/Groups/{group_id}", expect=(204,))
    await seed.settle(ctx.pool, "groups", "group_members")
    first, last = rows[0], rows[-1]
    return {
        "requests": {
            "add": "PATCH /Groups/{id} add 1 member",
            "remove": 'PATCH /Groups/{id} remove members[value eq "..."]',
            "get": "GET /Groups/{id}?excludedAttributes=members",
        },
        "checkpoints": rows,
        "largest_smallest_p50": {
            name: _ratio(last[name]["p50_ms"], first[name]["p50_ms"])
            for name in ("add", "remove", "get")
        },
        "errors": [f.as_dict() for f in failures],
    }


async def run_group_import(
    ctx: Context, client: scim.ScimClient, org_id: str, users: SeededUsers
) -> dict[str, Any]:
    profile = ctx.profile
    size = profile.import_members
    names = [f"import-{ctx.run_id}-{n:03d}" for n in range(profile.import_groups)]
    members = [users[n * size : (n + 1) * size] for n in range(len(names))]
    await seed.seed_groups(ctx.pool, org_id, names, members)
    on_page = min(100, len(names))
    pids = {role: ctx.pids[role] for role in _RSS_ROLES}
    pages: dict[str, dict[str, Any]] = {}
    failures: list[Failed] = []
    for name, wanted, count in (
        ("with_members", size, profile.import_requests),
        ("without_members", None, profile.import_excluded_requests),
    ):
        sizes: list[int] = []
        before = rss_mb(pids)
        with PeakRss(pids) as peak:
            run = await measure(
                ctx,
                f"group_import.{name}",
                scim.group_page(client, on_page, wanted, sizes),
                count,
                concurrency=1,
                time_limit_s=profile.group_time_limit_s,
                warmup=0,  # the first answer counts: it is when memory grows
            )
        failures += run.failures
        pages[name] = {
            **run.as_dict(),
            "bytes": int(statistics.median(sizes)) if sizes else 0,
            "rss_mb": {
                role: {"before": before[role], "peak": peak.peak_mb[role], "after": after}
                for role, after in rss_mb(pids).items()
            },
        }
    return {
        "groups": len(names),
        "members_per_group": size,
        "request": "GET /Groups?startIndex=1&count=100",
        "pages": pages,
        "errors": [f.as_dict() for f in failures],
    }
