"""Resource ids are UUIDs; a malformed one names nothing (404, never 500)."""

from __future__ import annotations

import uuid


def parse_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        return None


def parse_ids(raws: list[str]) -> tuple[list[uuid.UUID], list[str]]:
    """Split into (valid ids, malformed raw strings)."""
    valid: list[uuid.UUID] = []
    malformed: list[str] = []
    for raw in raws:
        parsed = parse_id(raw)
        if parsed is None:
            malformed.append(raw)
        else:
            valid.append(parsed)
    return valid, malformed
