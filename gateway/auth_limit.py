"""Failed-authentication limiting: a budget of failures per (client address, key id).

Every unknown token costs the identity service a lookup, so past `budget`
failures within `window_seconds` the gateway answers 429 from memory.

A bucket is the pair of the client address and the key id the token names,
or no key id for a token that names none. A valid key is therefore never
refused for failures from another address or against another key id: an
IdP's egress address shared with a misconfigured tenant, or someone
guessing at a key id, slows no one else. Successes neither consume nor
reset the budget.

The address is gateway/client_address.py's: the transport peer, or behind
the configured trusted proxies the client they saw.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from gateway.key_cache import Clock

# Beyond this many buckets the least recently failed is forgotten, so a spray
# of addresses or key ids costs bounded memory (~200 bytes a bucket).
MAX_BUCKETS = 100_000


@dataclass
class _Window:
    opened: float
    failures: int


class FailedAuthLimiter:
    """At most `budget` failed authentications per bucket in a fixed window."""

    def __init__(
        self,
        budget: int,
        window_seconds: float,
        clock: Clock = time.monotonic,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self._budget = budget
        self._window = window_seconds
        self._clock = clock
        self._max_buckets = max_buckets
        self._buckets: OrderedDict[tuple[str, str | None], _Window] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def retry_after(self, address: str, key_id: str | None) -> int | None:
        """None if this bucket may try again, else whole seconds until it may."""
        window = self._current((address, key_id))
        if window is None or window.failures < self._budget:
            return None
        return max(1, math.ceil(window.opened + self._window - self._clock()))

    def failed(self, address: str, key_id: str | None) -> None:
        """Count one failed authentication against the bucket."""
        bucket = (address, key_id)
        window = self._current(bucket)
        if window is None:
            window = self._buckets[bucket] = _Window(self._clock(), 0)
            if len(self._buckets) > self._max_buckets:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(bucket)
        window.failures += 1

    def _current(self, bucket: tuple[str, str | None]) -> _Window | None:
        window = self._buckets.get(bucket)
        if window is not None and self._clock() >= window.opened + self._window:
            del self._buckets[bucket]
            return None
        return window
