"""The OpenAPI 3.1 document of the SCIM API (gateway/openapi.yaml), served as JSON.

The YAML is read and rendered once, when the app is built: every request is
then a copy of the same bytes, and a broken document stops the gateway at
start rather than failing its readers later.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import orjson
import yaml
from aiohttp import web

from gateway.keys import OPENAPI


def load() -> dict[str, Any]:
    """The document as data (the tests read it too)."""
    text = resources.files("gateway").joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def rendered() -> bytes:
    return orjson.dumps(load())


async def openapi_document(request: web.Request) -> web.Response:
    """GET /scim/v2/openapi.json: readable without a key, like discovery (no org in its URL)."""
    return web.Response(body=request.app[OPENAPI], content_type="application/json", charset="utf-8")
