"""Typed application state (aiohttp AppKey)."""

from __future__ import annotations

from aiohttp import web

from console.identity import Identity
from console.sessions import SessionCookie
from console.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
IDENTITY = web.AppKey("identity", Identity)
COOKIE = web.AppKey("cookie", SessionCookie)
