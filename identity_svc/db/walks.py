"""Where index-paginated walks stopped, so their next page is a keyset read.

Okta imports an org with `startIndex=1&count=100`, then 101, 201, ... An
OFFSET costs as much as the rows it skips and shifts when rows before it are
deleted. So when a page of the default order (created, id) has a next page,
the position of its last row is kept in `list_walks` under the listing's walk
key and the next page's startIndex; the request for that startIndex then
continues with `(created, id) > position`, whichever replica serves it.

What a walk guarantees: a walk is a sequence of requests for the same org,
resource, scope and filter in the default order, each asking for startIndex =
the previous startIndex + the previous page's count. Every row that exists
from the walk's first request to its last is returned by exactly one of its
pages; a row created or deleted meanwhile is returned at most once. The keyset
owes this to (created, id) being immutable and unique: the pages' positions cut
the order into consecutive intervals, and each row falls in exactly one.

A request with no position (a jump, an explicit sortBy, the first page, a
position older than WALK_TTL) reads by OFFSET, and then leaves a position for
its own next page. Two walks of the same listing at the same startIndex share
one position (the later one wins); that is the only case in which a walk can
repeat or miss rows like an OFFSET walk does.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filter_attributes import Resource

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

# Okta asks for the next page within seconds; an hour covers its retries and
# back-offs. An expired position is only an OFFSET read.
WALK_TTL = timedelta(hours=1)

# start_index is a Postgres integer, like SCIM's startIndex on the wire.
_MAX_START_INDEX = 2**31 - 1

_SELECT_POSITION = """
SELECT w.last_created, w.last_id
FROM list_walks w
WHERE w.org_id = $1
  AND w.walk_key = $2
  AND w.start_index = $3
  AND w.updated_at > now() - $4::interval
"""

# The page that continues at $4 was served for $3. The position of the page
# before it (at $7, at most one page before $3) is no longer needed: a retry
# of page $3 still finds its own. Expired positions of the org go with it.
_REMEMBER_POSITION = """
WITH dropped AS (
    DELETE FROM list_walks w
    WHERE w.org_id = $1
      AND NOT (w.walk_key = $2 AND w.start_index = $4)
      AND (
          (w.walk_key = $2 AND w.start_index >= $7 AND w.start_index < $3)
          OR w.updated_at < now() - $8::interval
      )
)
INSERT INTO list_walks AS w (org_id, walk_key, start_index, last_created, last_id, updated_at)
VALUES ($1, $2, $4, $5, $6, now())
ON CONFLICT (org_id, walk_key, start_index) DO UPDATE
SET last_created = EXCLUDED.last_created,
    last_id = EXCLUDED.last_id,
    updated_at = EXCLUDED.updated_at
"""


def walk_key(
    resource: Resource, scope_key: str, request: pb.ListUsersRequest | pb.ListGroupsRequest
) -> bytes:
    """What identifies a walk: resource, scope and filter; never the projection."""
    digest = hashlib.sha256(f"{resource.value}\0{scope_key}\0".encode())
    if request.HasField("filter"):
        digest.update(request.filter.SerializeToString(deterministic=True))
    return digest.digest()


@dataclass(frozen=True)
class Position:
    """The last row of a page, in the default order."""

    created: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class WalkMark:
    """The page served at `served_index` continues at `next_index` after `position`."""

    org_id: str
    key: bytes
    served_index: int
    next_index: int
    position: Position
    max_page_size: int


def mark(
    org_id: str, key: bytes, served_index: int, count: int, last: Position, max_page_size: int
) -> WalkMark | None:
    next_index = served_index + count
    if next_index > _MAX_START_INDEX:
        return None
    return WalkMark(org_id, key, served_index, next_index, last, max_page_size)


async def find_position(
    conn: Connection, org_id: str, key: bytes, start_index: int
) -> Position | None:
    """Where the walk `key` that asks for `start_index` stopped, if it is known."""
    row = await conn.fetchrow(_SELECT_POSITION, org_id, key, start_index, WALK_TTL)
    return None if row is None else Position(row["last_created"], row["last_id"])


async def remember_walk(conn: Connection, walk: WalkMark) -> None:
    """Keep `walk`'s position for its next page (its own statement, committed at once)."""
    await conn.execute(
        _REMEMBER_POSITION,
        walk.org_id,
        walk.key,
        walk.served_index,
        walk.next_index,
        walk.position.created,
        walk.position.id,
        walk.served_index - walk.max_page_size,
        WALK_TTL,
    )
