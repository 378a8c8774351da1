"""Bearer-key authentication and per-key rate limiting.

A key works only on its own org's URL: the identity service verifies the
presented token for the org in the URL. A verified key is trusted for at most
`key_cache_seconds` without asking again; a revocation reaches the cache at
once through the event stream (gateway/revocations.py), and while that stream
is down no key is trusted for more than 2 s. Auth fails closed: any doubt is a 401.
"""

from __future__ import annotations

import hashlib

from aiohttp import web

from gateway import errors
from gateway.identity_client import IdentityClient
from gateway.keys import IDENTITY, KEY_CACHE, RATE_LIMITER
from gateway.responses import REQUEST_ID, Handler
from identity_api.v1 import identity_pb2 as pb

KEY_ID = web.RequestKey("scim_key_id", str)


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or not token.isascii():
        raise errors.Unauthorized("a bearer token is required")
    return token.strip()


async def _verified_key(request: web.Request, org_id: str, token: str) -> str:
    cache = request.app[KEY_CACHE]
    digest = hashlib.sha256(token.encode()).digest()
    key_id = cache.get(org_id, digest)
    if key_id is not None:
        return key_id
    identity: IdentityClient = request.app[IDENTITY]
    verdict = await identity.call(
        "VerifyScimKey", pb.VerifyScimKeyRequest(org_id=org_id, token=token), request[REQUEST_ID]
    )
    if not verdict.valid:
        raise errors.Unauthorized("the bearer token is not a valid key for this org")
    cache.put(org_id, digest, verdict.key.id)
    return str(verdict.key.id)


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
    request.app[RATE_LIMITER].take(key_id)
    request[KEY_ID] = key_id
    return await handler(request)
