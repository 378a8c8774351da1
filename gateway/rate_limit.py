"""Per-key request rate limiting: a token bucket per key, per gateway replica."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from gateway import errors
from gateway.key_cache import Clock


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """A token bucket per key: `rate` requests/s sustained, bursts of `burst`.

    A request may cost more than one token (a Bulk request costs one per
    operation). A cost above `burst` is let through once the bucket is full and
    leaves it in debt: such a request is slow, not impossible, and the key's
    sustained rate still holds.
    """

    rate: float
    burst: int
    clock: Clock = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, key_id: str, cost: int = 1, *, paid: int = 0) -> None:
        """Take what a request of `cost` tokens still owes, or take none and raise 429.

        `paid`: tokens the request already took, so that paying in two steps
        (the auth middleware's one, then the rest of a Bulk request) is
        allowed or refused exactly as paying the whole cost at once.
        """
        now = self.clock()
        bucket = self._buckets.setdefault(key_id, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        need = float(max(0, min(cost, self.burst) - paid))
        if bucket.tokens >= need:
            bucket.tokens -= max(0, cost - paid)
            return
        wait = max(1, math.ceil((need - bucket.tokens) / self.rate))
        raise errors.TooManyRequests(
            "too many requests for this key; slow down", headers={"Retry-After": str(wait)}
        )
