"""RateLimiter: a token bucket per key, where a request may cost several tokens."""

from __future__ import annotations

import pytest

from gateway import errors
from gateway.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _refused(limiter: RateLimiter, key_id: str, cost: int = 1, paid: int = 0) -> int:
    with pytest.raises(errors.TooManyRequests) as refused:
        limiter.take(key_id, cost, paid=paid)
    return int(refused.value.headers["Retry-After"])


def test_a_burst_then_the_sustained_rate():
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("k1")
    assert _refused(limiter, "k1") == 1
    limiter.take("k2")  # another key's bucket is full
    clock.now += 0.5
    limiter.take("k1")


def test_a_cost_above_what_is_left_takes_nothing():
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=10, clock=clock)
    limiter.take("k1", 7)
    assert _refused(limiter, "k1", 5) == 2
    limiter.take("k1", 3)  # the refused cost took nothing
    assert _refused(limiter, "k1") == 1


def test_paying_in_two_steps_is_paying_at_once():
    clock = Clock()
    limiter = RateLimiter(rate=1.0, burst=10, clock=clock)
    limiter.take("k1", 4)
    limiter.take("k1")  # the middleware's token of a 6-token request: 5 left
    assert _refused(limiter, "k1", 7, paid=1) == 1  # as 7 from the 6 it had
    limiter.take("k1", 6, paid=1)
    assert _refused(limiter, "k1") == 1


def test_a_cost_above_the_burst_waits_for_a_full_bucket_and_leaves_a_debt():
    clock = Clock()
    limiter = RateLimiter(rate=10.0, burst=50, clock=clock)
    limiter.take("k1", 5)
    limiter.take("k1")  # the middleware's token of a 120-token Bulk request
    assert _refused(limiter, "k1", 120, paid=1) == 1  # 44 left of the 49 it still needs
    clock.now += 0.6  # full again
    limiter.take("k1")
    limiter.take("k1", 120, paid=1)  # a full bucket lets it through
    # 70 tokens of debt: the next request waits until the bucket holds one.
    assert _refused(limiter, "k1") == 8
    clock.now += 7.2
    limiter.take("k1")


def test_a_cost_of_nothing_is_never_refused_nor_refunded():
    limiter = RateLimiter(rate=1.0, burst=1, clock=Clock())
    limiter.take("k1")
    limiter.take("k1", 0, paid=1)  # an empty Bulk request: its one token is paid
    assert _refused(limiter, "k1") == 1
