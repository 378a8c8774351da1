"""Bearer-key authentication and per-key rate limiting.

A key works only on its own org's URL: the identity service verifies the
presented token for the org in the URL. A verified key is trusted for at most
`key_cache_seconds` without asking again; a revocation reaches the cache at
once through the event stream (gateway/revocations.py), and while that stream
is down no key is trusted for more than 2 s. Auth fails closed: any doubt is a 401.

A key the cache does not know costs a lookup; repeated failures of one client
address and key id are refused from memory instead (gateway/auth_limit.py).
"""

from __future__ import annotations

import hashlib
import time

from aiohttp import web

from gateway import errors
from gateway.client_address import client_address
from gateway.keys import AUTH_LIMITER, IDENTITY, KEY_CACHE, RATE_LIMITER, SETTINGS
from gateway.metrics import METRICS
from gateway.responses import REQUEST_ID, Handler
from identity_api.scim_tokens import parse_token
from identity_api.v1 import identity_pb2 as pb

KEY_ID = web.RequestKey("scim_key_id", str)


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not token.isascii():
        raise errors.Unauthorized("a bearer token is required")
    return token.strip()


def presented_key_id(token: str) -> str | None:
    """The key id a well-formed token names (identity_api/scim_tokens.py), else None.

    The identity service alone decides validity; this only picks the token's
    failed-auth bucket, so a misreading can cost a bucket, never grant access.
    """
    parsed = parse_token(token)
    return parsed[0] if parsed else None


async def _verified_key(request: web.Request, org_id: str, token: str) -> str:
    cache = request.app[KEY_CACHE]
    digest = hashlib.sha256(token.encode()).digest()
    key_id = cache.get(org_id, digest)
    if key_id is not None:
        return key_id
    limiter = request.app[AUTH_LIMITER]
    address = client_address(request, request.app[SETTINGS].trusted_proxies)
    presented = presented_key_id(token)
    wait = limiter.retry_after(address, presented)
    if wait is not None:
        request.app[METRICS].auth_limited.inc()
        raise errors.TooManyRequests(
            "too many failed authentication attempts; retry later",
            headers={"Retry-After": str(wait)},
        )
    verdict = await request.app[IDENTITY].verify_scim_key(
        pb.VerifyScimKeyRequest(org_id=org_id, token=token), request[REQUEST_ID]
    )
    if not verdict.valid:
        limiter.failed(address, presented)
        raise errors.Unauthorized("the bearer token is not a valid key for this org")
    limiter.succeeded(verdict.key.id)
    cache.put(org_id, digest, verdict.key.id, _expires_in(verdict.key))
    return str(verdict.key.id)


def _expires_in(key: pb.ScimKey) -> float | None:
    """Seconds until the key expires (by this host's clock), None if it never does."""
    if not key.HasField("expires"):
        return None
    return key.expires.ToNanoseconds() / 1e9 - time.time()


def public(handler: Handler) -> Handler:
    """Mark a handler as readable without a key (discovery, RFC 7643 §5)."""
    handler.scim_public = True  # type: ignore[attr-defined]
    return handler


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    org_id = request.match_info.get("org")
    if org_id is None or getattr(request.match_info.handler, "scim_public", False):
        return await handler(request)
    key_id = await _verified_key(request, org_id, _bearer(request))
    request[KEY_ID] = key_id  # before the rate limit: the request log names a refused key too
    request.app[RATE_LIMITER].take(key_id)
    return await handler(request)
