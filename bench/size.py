"""Size independence (SPEC §8): the same requests in a small org and in the big one.

The big org is the bench's org with `--users N` seeded users; the small org
has `small_org_users` (1,000). Lookups (GET by id, `userName eq`, the work
email filter) run with the bench's usual concurrency, small org then big org
back to back. Pages of 100 users run one at a time, as an IdP's import reads
them: at startIndex 1, total/2 and total-99 in each org, and a walk over the
last five pages in order (total-499, total-399, ..., total-99). Each row
reports both orgs and big ÷ small for p50 and p95: near 1 when a request's cost
does not grow with the data it does not touch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench import scim
from bench.load import Failed, Operation
from bench.scenarios import Context, Measured, measure
from bench.seed import SeedUser

LOOKUPS = (
    ("get_by_id", "GET /Users/{id}"),
    ("filter_user_name", 'filter userName eq "..."'),
    ("filter_work_email", 'filter emails[type eq "work"].value eq "..."'),
)
PAGES = (
    ("page_first", "page startIndex=1"),
    ("page_middle", "page startIndex=total/2"),
    ("page_last", "page startIndex=total-99"),
    ("walk_last_pages", "walk: the last 5 pages in order"),
)
LABELS = dict(LOOKUPS + PAGES)
_WALK_PAGES = 5


@dataclass(frozen=True)
class OrgUnderTest:
    name: str  # "small" or "big"
    client: scim.ScimClient
    users: Sequence[SeedUser]  # the seeded ones
    total: int  # users in the org (the seeded ones plus its admin)


def page_starts(total: int) -> dict[str, list[int]]:
    """The startIndex values of each page row, for an org of `total` users."""
    last = max(1, total - 99)
    walk = [max(1, last - 100 * back) for back in range(_WALK_PAGES - 1, -1, -1)]
    return {
        "page_first": [1],
        "page_middle": [max(1, total // 2)],
        "page_last": [last],
        "walk_last_pages": sorted(set(walk)),
    }


def _lookup(name: str, org: OrgUnderTest) -> Operation:
    match name:
        case "get_by_id":
            return scim.get_by_id(org.client, org.users)
        case "filter_user_name":
            return scim.filter_user_name(org.client, org.users)
        case "filter_work_email":
            return scim.filter_work_email(org.client, org.users)
    raise ValueError(f"no such lookup: {name}")


def _ratio(big: float, small: float) -> float:
    return round(big / small, 3) if small else 0.0


def _row(
    name: str, runs: dict[str, Measured], starts: dict[str, list[int]] | None
) -> dict[str, Any]:
    small, big = runs["small"], runs["big"]
    row: dict[str, Any] = {
        "name": name,
        "request": LABELS[name],
        "small": small.as_dict(),
        "big": big.as_dict(),
        "big_small_p50": _ratio(big.stats.p50_ms, small.stats.p50_ms),
        "big_small_p95": _ratio(big.stats.p95_ms, small.stats.p95_ms),
    }
    if starts is not None:
        row["start_index"] = starts
    return row


async def run_size(ctx: Context, orgs: Sequence[OrgUnderTest]) -> dict[str, Any]:
    profile = ctx.profile
    rows: list[dict[str, Any]] = []
    failures: list[Failed] = []
    for name, _ in LOOKUPS:
        runs = {}
        for org in orgs:
            runs[org.name] = await measure(
                ctx, f"size.{org.name}.{name}", _lookup(name, org), profile.size_lookups
            )
            failures += runs[org.name].failures
        rows.append(_row(name, runs, None))
    for name, _ in PAGES:
        runs, starts = {}, {}
        for org in orgs:
            starts[org.name] = page_starts(org.total)[name]
            repeats = profile.size_walks if name == "walk_last_pages" else profile.size_pages
            runs[org.name] = await measure(
                ctx,
                f"size.{org.name}.{name}",
                scim.user_pages(org.client, starts[org.name], org.total),
                repeats * len(starts[org.name]),
                concurrency=1,
                warmup=len(starts[org.name]),  # one pass, in order
            )
            failures += runs[org.name].failures
        rows.append(_row(name, runs, starts))
    return {
        "orgs": {org.name: {"seeded_users": len(org.users), "users": org.total} for org in orgs},
        "rows": rows,
        "errors": [f.as_dict() for f in failures],
    }
