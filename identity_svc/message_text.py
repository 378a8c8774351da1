"""Text Postgres cannot store: NUL characters, refused at the gRPC boundary.

Postgres text and jsonb cannot hold U+0000, so a request carrying one would
otherwise fail deep inside a query as an internal error. Every request is
checked once, before any use case runs, and refused as an invalid value.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf.message import Message

# A JSON escape that decodes to U+0000: `\u0000` after an even run of
# backslashes (an odd run would make its own backslash a literal one).
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _strings_with_nul(name: str, values: list[Any]) -> str | None:
    return name if any(isinstance(v, str) and "\x00" in v for v in values) else None


def _in_map(name: str, entries: Any) -> str | None:
    for key, value in entries.items():
        if isinstance(key, str) and "\x00" in key:
            return f"{name} key"
        found = first_nul_field(value) if isinstance(value, Message) else None
        found = found or _strings_with_nul(name, [value])
        if found:
            return f"{name}.{found}" if isinstance(value, Message) else found
    return None


def first_nul_field(message: Message) -> str | None:
    """The name of the first field (or nested field) holding a NUL, else None."""
    for field, value in message.ListFields():
        if field.type == field.TYPE_STRING:
            found = _strings_with_nul(field.name, list(value) if field.is_repeated else [value])
        elif field.type == field.TYPE_BYTES and field.name.endswith("_json"):
            # identity.proto's *_json fields carry JSON text; a raw NUL is not JSON at all.
            found = field.name if _JSON_NUL.search(value) else None
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
            found = _in_map(field.name, value)
        elif field.type == field.TYPE_MESSAGE:
            children = list(value) if field.is_repeated else [value]
            nested = (first_nul_field(child) for child in children)
            found = next((f"{field.name}.{n}" for n in nested if n), None)
        else:
            found = None
        if found:
            return found
    return None
