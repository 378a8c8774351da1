"""FailedAuthLimiter: the budget, its window, its buckets and its memory bound."""

from __future__ import annotations

import pytest

from gateway.auth import presented_key_id
from gateway.auth_limit import ADDRESS_FACTOR, FailedAuthLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _fail(limiter: FailedAuthLimiter, times: int, address: str, key_id: str | None) -> None:
    for _ in range(times):
        assert limiter.retry_after(address, key_id) is None
        limiter.failed(address, key_id)


def test_the_budget_is_spent_then_refused_until_the_window_closes():
    clock = Clock()
    limiter = FailedAuthLimiter(3, 60.0, clock)
    _fail(limiter, 3, "10.0.0.1", "k1")
    assert limiter.retry_after("10.0.0.1", "k1") == 60
    clock.now += 59.5
    assert limiter.retry_after("10.0.0.1", "k1") == 1
    clock.now += 0.5
    assert limiter.retry_after("10.0.0.1", "k1") is None
    _fail(limiter, 3, "10.0.0.1", "k1")  # a fresh window: the whole budget again
    assert limiter.retry_after("10.0.0.1", "k1") is not None


def test_retry_after_counts_from_the_first_failure_of_the_window():
    clock = Clock()
    limiter = FailedAuthLimiter(2, 10.0, clock)
    limiter.failed("10.0.0.1", None)
    clock.now += 7.2
    limiter.failed("10.0.0.1", None)
    assert limiter.retry_after("10.0.0.1", None) == 3


@pytest.mark.parametrize(
    ("address", "key_id"),
    [("10.0.0.2", "k1"), ("10.0.0.1", "k2"), ("10.0.0.1", None), ("10.0.0.2", None)],
)
def test_a_bucket_is_one_address_and_one_key_id(address, key_id):
    limiter = FailedAuthLimiter(2, 60.0, Clock())
    _fail(limiter, 2, "10.0.0.1", "k1")
    assert limiter.retry_after("10.0.0.1", "k1") is not None
    assert limiter.retry_after(address, key_id) is None


def test_a_token_without_a_key_id_counts_for_its_address_alone():
    limiter = FailedAuthLimiter(2, 60.0, Clock())
    _fail(limiter, 2, "10.0.0.1", None)
    assert limiter.retry_after("10.0.0.1", None) is not None
    assert limiter.retry_after("10.0.0.1", "k1") is None


def test_memory_is_bounded_by_forgetting_the_least_recently_failed():
    # Each failure counts in two buckets: its key id's and its address's.
    limiter = FailedAuthLimiter(1, 60.0, Clock(), max_buckets=6)
    for address in ("a", "b", "c"):
        limiter.failed(address, None)
    limiter.failed("a", None)  # a failed again: b is now the oldest
    limiter.failed("d", None)
    assert len(limiter) == 6
    assert limiter.retry_after("b", None) is None
    assert all(limiter.retry_after(x, None) is not None for x in ("a", "c", "d"))


def test_inventing_key_ids_is_bounded_per_address():
    limiter = FailedAuthLimiter(2, 60.0, Clock())
    for n in range(2 * ADDRESS_FACTOR):
        _fail(limiter, 1, "10.0.0.1", f"{n:016x}")
    assert limiter.retry_after("10.0.0.1", f"{99:016x}") is not None
    assert limiter.retry_after("10.0.0.2", f"{99:016x}") is None


def test_a_key_this_gateway_verified_is_judged_by_its_own_bucket_alone():
    limiter = FailedAuthLimiter(2, 60.0, Clock())
    real = "00000000000000ff"
    limiter.succeeded(real)
    for n in range(2 * ADDRESS_FACTOR):
        limiter.failed("10.0.0.1", f"{n:016x}")
    assert limiter.retry_after("10.0.0.1", real) is None
    _fail(limiter, 2, "10.0.0.1", real)  # its own budget still holds
    assert limiter.retry_after("10.0.0.1", real) is not None


def test_an_expired_window_is_forgotten():
    clock = Clock()
    limiter = FailedAuthLimiter(1, 5.0, clock)
    limiter.failed("a", "k1")
    clock.now += 5.0
    assert limiter.retry_after("a", "k1") is None
    assert len(limiter) == 0


@pytest.mark.parametrize(
    ("token", "key_id"),
    [
        ("gscim_0123456789abcdef_s3cr_et", "0123456789abcdef"),
        ("gscim_0123456789abcdef_", None),
        ("gscim__secret", None),
        ("gscim_0123456789abcdef", None),
        # Only a real key id's shape opens a bucket of its own (bounded memory).
        ("gscim_" + "a" * 8000 + "_secret", None),
        ("gscim_0123456789ABCDEF_secret", None),
        ("other_0123456789abcdef_secret", None),
        ("not-a-key", None),
    ],
)
def test_the_key_id_a_token_presents(token, key_id):
    assert presented_key_id(token) == key_id
