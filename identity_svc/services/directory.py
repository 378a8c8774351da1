"""The member directory for GraphOS services (SPEC §5); reads only, org-scoped.

Every query carries the org id, so a caller can never reach another org's
member, whatever id, userName or email it presents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import asyncpg

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filter_attributes import Resource
from identity_svc.db.listing import ListedRows, list_rows
from identity_svc.db.users import USER_COLUMNS, UsersRepository, in_group, user_from_row
from identity_svc.domain.errors import InvalidValue, NotFound, TooMany
from identity_svc.domain.models import Page, User
from identity_svc.services.transactions import run_listing, run_read

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

USER_ID, USER_NAME, EMAIL = "user_id", "user_name", "email"


async def _with_groups(conn: Connection, users: list[User], include: bool) -> list[User]:
    if not include or not users:
        return users
    groups = await UsersRepository(conn).groups_of(users[0].org_id, [u.id for u in users])
    return [replace(u, groups=groups[u.id]) for u in users]


async def _find(conn: Connection, org_id: str, key: str, value: str) -> User | None:
    users = UsersRepository(conn)
    if key == USER_ID:
        return (await users.get_many(org_id, [value])).get(value)
    if key == USER_NAME:
        return await users.find_by_user_name(org_id, value)
    return await users.find_by_email(org_id, value)


async def get_member(
    pool: asyncpg.Pool, org_id: str, key: str | None, value: str, include_groups: bool
) -> User:
    """A member by id, userName or primary email (the last two ignore case)."""
    if key not in (USER_ID, USER_NAME, EMAIL) or not value:
        raise InvalidValue("name the member by user_id, user_name or email")

    async def work(conn: Connection) -> User:
        user = await _find(conn, org_id, key, value)
        if user is None:
            raise NotFound(f"no member with {key} {value!r} in org {org_id}")
        return (await _with_groups(conn, [user], include_groups))[0]

    return await run_read(pool, work)


async def batch_get_members(
    pool: asyncpg.Pool,
    org_id: str,
    user_ids: Sequence[str],
    include_groups: bool,
    max_batch: int,
) -> tuple[list[User], list[str]]:
    """(members in request order, ids naming no member of the org); duplicates once."""
    wanted = list(dict.fromkeys(user_ids))
    if len(wanted) > max_batch:
        raise TooMany(f"at most {max_batch} members a batch")

    async def work(conn: Connection) -> tuple[list[User], list[str]]:
        found = await UsersRepository(conn).get_many(org_id, wanted)
        members = [found[i] for i in wanted if i in found]
        return await _with_groups(conn, members, include_groups), [
            i for i in wanted if i not in found
        ]

    return await run_read(pool, work)


async def list_members(
    pool: asyncpg.Pool, org_id: str, request: pb.ListMembersRequest, max_page_size: int
) -> Page[User]:
    """A page of the org's (or one group's) members, filtered like SCIM /Users."""
    listing = pb.ListUsersRequest(org_id=org_id, page=request.page)
    if request.HasField("filter"):
        listing.filter.CopyFrom(request.filter)
    scope = in_group(request.group_id) if request.group_id else None

    async def work(conn: Connection) -> tuple[list[User], ListedRows]:
        listed = await list_rows(
            conn, Resource.USERS, org_id, USER_COLUMNS, listing, max_page_size, scope
        )
        users = [user_from_row(r) for r in listed.rows]
        users = await _with_groups(conn, users, request.include_groups)
        return users, listed

    return await run_listing(pool, work)
