"""The deprovisioning brake's rule, without storage (README "When the IdP goes wrong").

An IdP misconfiguration can deactivate or delete a whole org in minutes. Per
org, at most `budget = max(floor, ceil(share * active members))` deprovisions
are admitted within a sliding window; the request that would exceed it trips
the brake, and from then on every deprovision is refused until an Org Admin
releases it. A deprovision is a deactivation, a user DELETE, or a member
removed from a group mapped to a role (each member once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_FLOOR = 25
DEFAULT_SHARE_PERCENT = 10.0
DEFAULT_WINDOW = timedelta(minutes=15)

# What a refused deprovision tells the IdP to wait: Okta and Entra retry a
# 429 on their own, so once an admin releases the brake nothing is lost.
RETRY_AFTER_SECONDS = 300


@dataclass(frozen=True)
class BrakeSettings:
    enabled: bool = True
    floor: int = DEFAULT_FLOOR
    share_percent: float = DEFAULT_SHARE_PERCENT
    window: timedelta = DEFAULT_WINDOW

    def budget(self, active_members: int) -> int:
        return max(self.floor, math.ceil(self.share_percent / 100 * active_members))


@dataclass(frozen=True)
class BrakeState:
    """An org's brake: its settings and where it stands."""

    settings: BrakeSettings
    tripped_at: datetime | None = None
    tripped_data: dict[str, int] | None = None
    counted_from: datetime | None = None
    allowance: int = 0
    off_until: datetime | None = None
    budget: int | None = None  # this window's, once counted
    budget_until: datetime | None = None

    def off(self, now: datetime) -> bool:
        return not self.settings.enabled or (self.off_until is not None and now < self.off_until)

    def window_start(self, now: datetime) -> datetime:
        start = now - self.settings.window
        return max(start, self.counted_from) if self.counted_from else start

    def cached_budget(self, now: datetime) -> int | None:
        if self.budget_until is not None and now < self.budget_until:
            return self.budget
        return None


@dataclass(frozen=True)
class Admission:
    """What the brake says of `requested` deprovisions.

    `counted`: how many count against the window's budget; `from_allowance`:
    how many a release's allowance admits beyond it. Refused: both 0 and
    `refused` set, with the figures the trip records.
    """

    counted: int = 0
    from_allowance: int = 0
    refused: dict[str, int] | None = None


def admit(in_window: int, requested: int, budget: int, allowance: int) -> Admission:
    """Admit all `requested` within the budget plus allowance, or none (refused)."""
    within_budget = max(0, budget - in_window)
    beyond = max(0, requested - within_budget)
    if beyond <= allowance:
        return Admission(counted=requested - beyond, from_allowance=beyond)
    figures = {"in_window": in_window, "requested": requested, "budget": budget}
    return Admission(refused=figures)
