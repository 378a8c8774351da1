"""The SCIM key token format, shared by the identity service and the gateway.

A token is `gscim_<key id>_<secret>`: the key id is 16 lowercase hex digits
(public: it names the key in listings and logs), the secret is random and
known only to its holder (only its hash is stored). The identity service
mints and verifies tokens; the gateway reads the key id only to pick a
failed-authentication bucket, never to grant anything.
"""

from __future__ import annotations

import re
import secrets

PREFIX = "gscim"
_KEY_ID = re.compile(r"[0-9a-f]{16}")


def new_token() -> tuple[str, str, str]:
    """(key id, secret, token) of a new key."""
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    return key_id, secret, f"{PREFIX}_{key_id}_{secret}"


def parse_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not _KEY_ID.fullmatch(key_id) or not secret:
        return None
    return key_id, secret
