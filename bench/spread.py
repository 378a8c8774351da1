"""Creates in one org vs the same load spread over several orgs.

Every write of an org passes through that org's row (its event sequence,
SPEC §6), so creates in one org may queue where creates over many orgs do
not. Both runs use fresh orgs onboarded with `identityctl`: first all creates
go to the first of them, then the same number go round-robin over all of
them, with the same concurrency. one org ÷ N orgs near 1 means no per-org
bottleneck.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench import scim
from bench.load import Operation
from bench.scenarios import Context, measure


def _round_robin(operations: Sequence[Operation]) -> Operation:
    async def operation(index: int) -> None:
        await operations[index % len(operations)](index)

    return operation


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 3) if denominator else 0.0


async def run_spread(ctx: Context, clients: Sequence[scim.ScimClient]) -> dict[str, Any]:
    count = ctx.profile.spread_creates
    one = await measure(
        ctx, "spread.one_org", scim.create_user(clients[0], f"{ctx.run_id}-one"), count
    )
    spread_id = f"{ctx.run_id}-spread"
    spread = await measure(
        ctx,
        "spread.orgs",
        _round_robin([scim.create_user(client, spread_id) for client in clients]),
        count,
    )
    return {
        "request": "POST /Users",
        "orgs": len(clients),
        "one_org": one.as_dict(),
        "spread": spread.as_dict(),
        "one_spread_rate": _ratio(one.stats.rate, spread.stats.rate),
        "one_spread_p50": _ratio(one.stats.p50_ms, spread.stats.p50_ms),
        "errors": [f.as_dict() for f in one.failures + spread.failures],
    }
