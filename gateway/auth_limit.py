"""Failed-authentication limiting: a budget of failures per (client address, key id).

Every unknown token costs the identity service a lookup, so past `budget`
failures within `window_seconds` the gateway answers 429 from memory.

A bucket is the pair of the client address and the key id the token names
(16 hex digits, identity_api/scim_tokens.py), or no key id for a token that
names none. A valid key is therefore never refused for failures from another
address or against another key id: an IdP's egress address shared with a
misconfigured tenant slows no one else. Successes neither consume nor reset
the budget.

Inventing key ids would open a new bucket per guess, so an address also has
an overall budget (ADDRESS_FACTOR times the budget) across the key ids this
gateway has never verified; a key it has verified is judged by its own
bucket alone, so a real key is not refused for an address's guessing.

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
# of addresses or key ids costs bounded memory (a bucket's key is an address
# and a 16-character key id, a few hundred bytes with its entry).
MAX_BUCKETS = 100_000
ADDRESS_FACTOR = 5
# The key ids this gateway has verified, most recent last (bounded likewise).
MAX_KNOWN_KEYS = 100_000
# The bucket of an address's failures across unverified key ids ("*" is no key id).
_ANY_KEY = "*"


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
        self._known: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def retry_after(self, address: str, key_id: str | None) -> int | None:
        """None if this client may try this key id again, else whole seconds until it may."""
        waits = [self._wait((address, key_id), self._budget)]
        if key_id not in self._known:
            waits.append(self._wait((address, _ANY_KEY), self._budget * ADDRESS_FACTOR))
        return max((w for w in waits if w is not None), default=None)

    def failed(self, address: str, key_id: str | None) -> None:
        """Count one failed authentication against the key id's and the address's buckets."""
        self._count((address, key_id))
        if key_id not in self._known:
            self._count((address, _ANY_KEY))

    def succeeded(self, key_id: str) -> None:
        """A key this gateway verified: its failures count in its own bucket only."""
        self._known[key_id] = None
        self._known.move_to_end(key_id)
        if len(self._known) > MAX_KNOWN_KEYS:
            self._known.popitem(last=False)

    def _wait(self, bucket: tuple[str, str | None], budget: int) -> int | None:
        window = self._current(bucket)
        if window is None or window.failures < budget:
            return None
        return max(1, math.ceil(window.opened + self._window - self._clock()))

    def _count(self, bucket: tuple[str, str | None]) -> None:
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
