"""Bounds on values that land in indexes.

A btree index entry must fit in about a third of a page (some 2.7 kB), so an
over-long userName, email or group name would fail inside the INSERT as an
internal error. We refuse it up front as an invalid value instead; no real
IdP sends identifiers anywhere near this long.
"""

from __future__ import annotations

from identity_svc.domain.errors import InvalidValue

MAX_INDEXED_LENGTH = 1024


def indexable(name: str, value: str | None) -> str | None:
    """`value`, if it is short enough to be indexed; InvalidValue otherwise."""
    if value is not None and len(value) > MAX_INDEXED_LENGTH:
        raise InvalidValue(f"{name} is longer than {MAX_INDEXED_LENGTH} characters")
    return value
