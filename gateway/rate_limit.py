"""Per-key request rate limiting: a token bucket per key, per gateway replica."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from gateway.key_cache import Clock


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """A token bucket per key: `rate` requests/s sustained, bursts of `burst`."""

    rate: float
    burst: int
    clock: Clock = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def retry_after(self, key_id: str) -> int | None:
        """Take a token for `key_id`; None if allowed, else seconds to wait."""
        now = self.clock()
        bucket = self._buckets.setdefault(key_id, _Bucket(float(self.burst), now))
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
