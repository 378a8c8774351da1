"""Verified keys, remembered briefly so not every request asks the identity service."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]

# Beyond this many entries, expired ones are swept before adding another.
_SWEEP_ABOVE = 10_000


class KeyCache:
    """Verified (org, token) pairs, by the token's digest, for a short time."""

    def __init__(self, ttl_seconds: float, clock: Clock = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[str, bytes], tuple[str, float]] = {}

    def get(self, org_id: str, digest: bytes) -> str | None:
        entry = self._entries.get((org_id, digest))
        if entry is None:
            return None
        key_id, expires = entry
        if self._clock() >= expires:
            del self._entries[(org_id, digest)]
            return None
        return key_id

    def put(self, org_id: str, digest: bytes, key_id: str) -> None:
        if len(self._entries) > _SWEEP_ABOVE:
            now = self._clock()
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
        self._entries[(org_id, digest)] = (key_id, self._clock() + self._ttl)

    def drop_key(self, key_id: str) -> None:
        """Forget a key at once (e.g. on revocation)."""
        self._entries = {k: v for k, v in self._entries.items() if v[0] != key_id}
