"""Request bodies as the request log shows them: secrets masked, cut to a few KiB.

A failed request's body helps an admin see what the IdP sent, but it must
never carry a secret out of the gateway: `password` (RFC 7643 §4.1.1: never
returned, and here never stored) and any attribute named like a secret or
token. In JSON those values become "****" wherever they are: as an
attribute, or as the `value` of a PATCH operation whose `path` names one. A
body that is not JSON cannot be masked reliably, so one that so much as
names a secret is not shown at all.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

MASK = "****"
MAX_BODY_BYTES = 4096
TRUNCATED = " …(truncated)"
# SCIM attribute names are case-insensitive (RFC 7643 §2.1); "passwd" and
# "apikey" too, as an IdP's custom attributes might be named.
_SECRET_NAME = re.compile(r"passw|secret|token|credential|api_?key|private_?key", re.IGNORECASE)
_NOT_SHOWN = "(not JSON, and it names a secret: not shown)"
_TOO_DEEP = "(nested too deeply to show)"


def _secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def _path_names_secret(value: Any) -> bool:
    # A PATCH path: `password`, `urn:...:User:password`, `x.secret`, `emails[...].value`.
    return isinstance(value, str) and _secret(re.split(r"[:.\]]", value)[-1])


def _masked(value: Any) -> Any:
    if isinstance(value, list):
        return [_masked(item) for item in value]
    if not isinstance(value, dict):
        return value
    patch_of_secret = _path_names_secret(
        next((v for k, v in value.items() if k.lower() == "path"), None)
    )
    return {
        key: MASK if _secret(key) or (patch_of_secret and key.lower() == "value") else _masked(item)
        for key, item in value.items()
    }


def _cut(text: str) -> str:
    encoded = text.encode()
    if len(encoded) <= MAX_BODY_BYTES:
        return text
    # Cut on a character boundary: a partial UTF-8 sequence is dropped.
    return encoded[:MAX_BODY_BYTES].decode(errors="ignore") + TRUNCATED


def masked_body(raw: bytes) -> str:
    """`raw` with every secret masked, at most MAX_BODY_BYTES (and a marker) long."""
    if not raw:
        return ""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError:
        text = raw.decode(errors="replace")
        return _NOT_SHOWN if _secret(text) else _cut(text)
    try:
        return _cut(orjson.dumps(_masked(document)).decode())
    except (RecursionError, orjson.JSONEncodeError):  # deeper than Python or orjson nest
        return _TOO_DEEP
