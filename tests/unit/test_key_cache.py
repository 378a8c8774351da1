"""KeyCache: TTL, revocation drops and the trust cap while revocations are not pushed."""

from __future__ import annotations

from gateway.key_cache import KeyCache

DIGEST = b"d" * 32


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_trusted_for_the_ttl():
    clock = Clock()
    cache = KeyCache(60.0, clock)
    cache.put("acme", DIGEST, "k1")
    clock.now += 59.0
    assert cache.get("acme", DIGEST) == "k1"
    clock.now += 1.0
    assert cache.get("acme", DIGEST) is None


def test_a_key_is_trusted_only_for_the_org_it_was_verified_for():
    cache = KeyCache(60.0, Clock())
    cache.put("acme", DIGEST, "k1")
    assert cache.get("other", DIGEST) is None
    assert cache.get("acme", DIGEST) == "k1"


def test_a_dropped_key_is_forgotten_and_not_cached_again_by_a_late_verification():
    clock = Clock()
    cache = KeyCache(60.0, clock)
    cache.put("acme", DIGEST, "k1")
    cache.drop_key("k1")
    assert cache.get("acme", DIGEST) is None
    cache.put("acme", DIGEST, "k1")  # a VerifyScimKey that raced the revocation
    assert cache.get("acme", DIGEST) is None
    cache.put("acme", b"e" * 32, "k2")  # other keys are unaffected
    assert cache.get("acme", b"e" * 32) == "k2"


def test_limit_trust_shortens_entries_and_lifting_it_never_extends_them():
    clock = Clock()
    cache = KeyCache(60.0, clock)
    cache.put("acme", DIGEST, "k1")
    cache.limit_trust(2.0)
    cache.put("acme", b"e" * 32, "k2")
    clock.now += 1.9
    assert cache.get("acme", DIGEST) == "k1"
    cache.limit_trust(None)
    clock.now += 0.1
    assert cache.get("acme", DIGEST) is None
    assert cache.get("acme", b"e" * 32) is None
    cache.put("acme", DIGEST, "k1")  # connected again: the configured TTL
    clock.now += 59.0
    assert cache.get("acme", DIGEST) == "k1"


def test_a_key_is_never_trusted_past_its_expiry():
    clock = Clock()
    cache = KeyCache(60.0, clock)
    cache.put("acme", DIGEST, "k1", expires_in=5.0)
    clock.now += 4.9
    assert cache.get("acme", DIGEST) == "k1"
    clock.now += 0.1
    assert cache.get("acme", DIGEST) is None


def test_an_expiry_beyond_the_ttl_leaves_the_ttl_and_a_past_one_caches_nothing():
    clock = Clock()
    cache = KeyCache(60.0, clock)
    cache.put("acme", DIGEST, "k1", expires_in=3600.0)
    clock.now += 60.0
    assert cache.get("acme", DIGEST) is None
    cache.put("acme", DIGEST, "k1", expires_in=-1.0)
    assert cache.get("acme", DIGEST) is None
