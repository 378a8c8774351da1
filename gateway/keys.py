"""Typed application state (aiohttp AppKey): what the handlers share."""

from __future__ import annotations

from aiohttp import web

from gateway.auth_limit import FailedAuthLimiter
from gateway.cursors import CursorSeal
from gateway.identity_client import IdentityClient
from gateway.key_cache import KeyCache
from gateway.rate_limit import RateLimiter
from gateway.readiness import Readiness
from gateway.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
IDENTITY = web.AppKey("identity", IdentityClient)
KEY_CACHE = web.AppKey("key_cache", KeyCache)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
AUTH_LIMITER = web.AppKey("auth_limiter", FailedAuthLimiter)
READINESS = web.AppKey("readiness", Readiness)
CURSORS = web.AppKey("cursors", CursorSeal)
# The OpenAPI document, rendered to JSON once (gateway/openapi.py).
OPENAPI = web.AppKey("openapi", bytes)
