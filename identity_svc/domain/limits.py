"""Bounds on values that land in indexes.

A btree index entry must fit in 2,704 bytes (a third of an 8 kB page, less
bookkeeping), so an over-long userName, email or group name would fail inside
the INSERT. We refuse it up front as an invalid value instead, naming the
attribute; no real IdP sends identifiers anywhere near these bounds.

Clients count characters, the index counts bytes: 1,024 CJK characters are
3,072 bytes of UTF-8. The widest entry is user_values_value's
(org_id, attribute, lower(value)): its tuple header, an org id of up to 63
bytes, the attribute's name and alignment take 96 bytes (measured), leaving
2,608 for lower(value). lower() may lengthen text: a few 2-byte letters (Ⱥ, Ⱦ,
and İ in some collations) become 3 bytes, so lower(value) is at most 1.5 times
value, and 1,700 bytes stays within 2,550 whatever the letters.
"""

from __future__ import annotations

from identity_svc.domain.errors import InvalidValue

MAX_INDEXED_LENGTH = 1024
MAX_INDEXED_BYTES = 1700


def indexable(name: str, value: str | None) -> str | None:
    """`value`, if it is short enough to be indexed; InvalidValue otherwise."""
    if value is None:
        return None
    if len(value) > MAX_INDEXED_LENGTH:
        raise InvalidValue(f"{name} is longer than {MAX_INDEXED_LENGTH} characters")
    if len(value.encode()) > MAX_INDEXED_BYTES:
        raise InvalidValue(f"{name} is longer than {MAX_INDEXED_BYTES} bytes of UTF-8")
    return value
