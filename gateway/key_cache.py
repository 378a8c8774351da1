"""Verified keys, remembered briefly so not every request asks the identity service.

Revocations reach the cache by push (gateway/revocations.py): `drop_key` forgets
a key at once. While that push is not connected, `limit_trust` caps how long
any key is trusted (SPEC §6: at most 2 s while disconnected). An expiry is
pushed by nobody: a key's entry ends at its expiry (`put`'s `expires_in`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]

# Beyond this many entries, expired ones are swept before adding another.
_SWEEP_ABOVE = 10_000
# A dropped key is not cached again for this long: a verification that was
# in flight when the key was revoked (bounded by the identity call deadline)
# must not put it back. A revoked key never becomes valid again, so this can
# only cost one extra verification of a key dropped for another reason.
_TOMBSTONE_SECONDS = 60.0


class KeyCache:
    """Verified (org, token) pairs, by the token's digest, for a short time."""

    def __init__(self, ttl_seconds: float, clock: Clock = time.monotonic) -> None:
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[tuple[str, bytes], tuple[str, float]] = {}
        self._tombstones: dict[str, float] = {}
        self._trust_cap: float | None = None

    def get(self, org_id: str, digest: bytes) -> str | None:
        entry = self._entries.get((org_id, digest))
        if entry is None:
            return None
        key_id, expires = entry
        if self._clock() >= expires:
            del self._entries[(org_id, digest)]
            return None
        return key_id

    def put(self, org_id: str, digest: bytes, key_id: str, expires_in: float | None = None) -> None:
        """Trust the key for the TTL, and never past its expiry, `expires_in` seconds away.

        An expiry sends no event (unlike a revocation), so the entry itself ends with it.
        """
        now = self._clock()
        if self._tombstones.get(key_id, now) > now:
            return
        if len(self._entries) > _SWEEP_ABOVE:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
        limits = (self._ttl, self._trust_cap, expires_in)
        ttl = min(limit for limit in limits if limit is not None)
        if ttl > 0:
            self._entries[(org_id, digest)] = (key_id, now + ttl)

    def drop_key(self, key_id: str) -> None:
        """Forget a key at once (e.g. on revocation), and do not re-cache it for a while."""
        now = self._clock()
        self._tombstones = {k: t for k, t in self._tombstones.items() if t > now}
        self._tombstones[key_id] = now + _TOMBSTONE_SECONDS
        self._entries = {k: v for k, v in self._entries.items() if v[0] != key_id}

    def limit_trust(self, seconds: float | None) -> None:
        """Trust every key at most `seconds` from now on; None restores the configured TTL.

        Entries already cached are shortened too; lifting the cap never extends them.
        """
        self._trust_cap = seconds
        if seconds is not None:
            limit = self._clock() + seconds
            self._entries = {k: (v[0], min(v[1], limit)) for k, v in self._entries.items()}
