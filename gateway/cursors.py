"""RFC 9865 cursors as SCIM clients hold them: opaque, signed, timed, bound to a query.

The identity service's cursors are bare positions in a listing
(identity_svc/db/listing.py), for internal callers it trusts. Before one
leaves the gateway it is sealed: the time it was issued, the page size it
was issued for and the position, followed by an HMAC-SHA256 tag over those
and over the org, resource type, filter and sort of its listing. So:

- a client can neither forge a cursor nor push back its issue time (RFC 9865
  §5.2: forged cursors are detected and answered `invalidCursor`);
- a cursor of another org or another query is refused exactly like a made-up
  one (§5.2: "out of scope" and "no such page" answer alike); the org always
  comes from the URL, never from the cursor;
- `cursorTimeout` is true: a cursor older than it answers `expiredCursor`;
- a page asked with another `count` than the cursor's answers `invalidCount`
  (§2.1: the count must be the one of the initial query).

Every replica verifies what any other signed: the key comes from
configuration (Settings.cursor_key) and issue times from the wall clock.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Callable
from dataclasses import dataclass

from gateway import errors
from identity_api.v1 import identity_pb2 as pb

_VERSION = 1
# version, issue time (whole seconds since the epoch), page size
_HEAD = struct.Struct(">BQI")
# HMAC-SHA256 truncated to 128 bits (RFC 2104 §5 allows down to half the hash).
_TAG_BYTES = 16
_NOT_OURS = (
    "the cursor is not one this server issued for this query; start again with an empty cursor"
)


@dataclass(frozen=True)
class CursorQuery:
    """What a cursor belongs to: the org of the URL, the resource type and the query."""

    org_id: str
    resource: str
    filter: pb.Filter | None
    sort: pb.SortOrder | None

    def context(self) -> bytes:
        """The query's parts, each length-prefixed so no two queries encode alike."""
        parts = (
            self.org_id.encode(),
            self.resource.encode(),
            b"" if self.filter is None else self.filter.SerializeToString(deterministic=True),
            b"" if self.sort is None else self.sort.SerializeToString(deterministic=True),
        )
        return b"".join(len(part).to_bytes(4, "big") + part for part in parts)


class CursorSeal:
    """Seals the identity service's positions into client cursors, and opens them again."""

    def __init__(self, key: bytes, timeout_seconds: int, clock: Callable[[], float]) -> None:
        self._key = key
        self._timeout = timeout_seconds
        self._clock = clock

    def seal(self, query: CursorQuery, count: int, position: str) -> str:
        body = _HEAD.pack(_VERSION, int(self._clock()), count) + position.encode("ascii")
        sealed = body + self._tag(query, body)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, query: CursorQuery, count: int, cursor: str) -> str:
        """The position `cursor` carries, if this server issued it for `query` and `count`."""
        raw = _decode(cursor)
        body, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if len(body) < _HEAD.size or not hmac.compare_digest(tag, self._tag(query, body)):
            raise errors.InvalidCursor(_NOT_OURS)
        version, issued, issued_count = _HEAD.unpack_from(body)
        if version != _VERSION:
            raise errors.InvalidCursor(_NOT_OURS)
        if self._clock() - issued > self._timeout:
            raise errors.ExpiredCursor(
                f"the cursor is older than cursorTimeout ({self._timeout} s); "
                "start again with an empty cursor"
            )
        if count != issued_count:
            raise errors.InvalidCount(
                f"count must be the count of the query's first page ({issued_count})"
            )
        return body[_HEAD.size :].decode("ascii")

    def _tag(self, query: CursorQuery, body: bytes) -> bytes:
        return hmac.new(self._key, query.context() + body, hashlib.sha256).digest()[:_TAG_BYTES]


def _decode(cursor: str) -> bytes:
    """base64url without padding, strictly: no character outside its alphabet."""
    try:
        padded = cursor.encode("ascii") + b"=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise errors.InvalidCursor(_NOT_OURS) from exc
