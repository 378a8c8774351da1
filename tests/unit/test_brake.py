"""The deprovisioning brake's rule, as pure arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from identity_svc.domain.brake import Admission, BrakeSettings, BrakeState, admit

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_the_budget_is_the_floor_or_the_share_of_active_members():
    settings = BrakeSettings(floor=25, share_percent=10)
    assert [settings.budget(n) for n in (0, 100, 250, 251, 20_000)] == [25, 25, 25, 26, 2000]


def test_requests_within_the_budget_are_counted():
    assert admit(in_window=3, requested=2, budget=5, allowance=0) == Admission(counted=2)


def test_a_request_that_would_exceed_it_is_refused_whole():
    refused = admit(in_window=4, requested=2, budget=5, allowance=0)
    assert (refused.counted, refused.from_allowance) == (0, 0)
    assert refused.refused == {"in_window": 4, "requested": 2, "budget": 5}


def test_an_allowance_admits_beyond_the_budget_and_no_more():
    assert admit(in_window=4, requested=3, budget=5, allowance=2) == Admission(1, 2)
    assert admit(in_window=4, requested=4, budget=5, allowance=2).refused is not None


def test_a_release_restarts_the_window_and_off_lasts_until_its_time():
    window = timedelta(minutes=15)
    state = BrakeState(BrakeSettings(window=window))
    assert state.window_start(NOW) == NOW - window
    released = BrakeState(BrakeSettings(window=window), counted_from=NOW - timedelta(minutes=1))
    assert released.window_start(NOW) == NOW - timedelta(minutes=1)
    off = BrakeState(BrakeSettings(), off_until=NOW + timedelta(hours=1))
    assert off.off(NOW)
    assert not off.off(NOW + timedelta(hours=2))
    assert BrakeState(BrakeSettings(enabled=False)).off(NOW)


def test_the_budget_counted_for_a_window_holds_until_it_ends():
    state = BrakeState(BrakeSettings(), budget=40, budget_until=NOW + timedelta(minutes=5))
    assert state.cached_budget(NOW) == 40
    assert state.cached_budget(NOW + timedelta(minutes=6)) is None
