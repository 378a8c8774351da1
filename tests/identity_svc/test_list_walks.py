"""Okta's index walk costs the same at any depth and sees every user once (SPEC §3, §8).

A walk asks startIndex=1, 101, 201, ...; each page after the first must
continue from the previous page's last row (a keyset read), not skip rows by
OFFSET. Structure is asserted on the statements the product runs, captured
from its connection, never on time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import asyncpg

from identity_api.v1 import identity_pb2 as pb
from identity_svc.services import users as user_service
from tests.identity_svc.support import OPERATOR, new_org_id, value

if TYPE_CHECKING:
    from identity_svc.db.pool import Connection

PAGE = 100
MAX_PAGE = 200


@dataclass
class _LoggingPool:
    """Pool-shaped: lends one connection and logs every statement run on it."""

    conn: Connection
    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def _log(self, record: asyncpg.connection.LoggedQuery) -> None:
        self.statements.append((record.query, tuple(record.args)))

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Connection]:
        self.conn.add_query_logger(self._log)
        try:
            yield self.conn
        finally:
            self.conn.remove_query_logger(self._log)


async def _seed(db_pool: asyncpg.Pool, org: str, count: int, prefix: str = "seed") -> None:
    await db_pool.execute(
        "INSERT INTO users (org_id, id, user_name, document)"
        " SELECT $1, gen_random_uuid(), $3 || i || '@walk.test', '{}'"
        " FROM generate_series(1, $2) i",
        org,
        count,
        prefix,
    )
    await db_pool.execute("ANALYZE users")


async def _ordered_ids(db_pool: asyncpg.Pool, org: str) -> list[str]:
    rows = await db_pool.fetch("SELECT id FROM users WHERE org_id = $1 ORDER BY created, id", org)
    return [str(r["id"]) for r in rows]


def _request(org: str, start: int, count: int = PAGE, **fields: Any) -> pb.ListUsersRequest:
    page = pb.Page(index=pb.IndexPage(start_index=start, count=count))
    return pb.ListUsersRequest(org_id=org, page=page, **fields)


async def _page(
    db_pool: asyncpg.Pool, request: pb.ListUsersRequest
) -> tuple[list[str], list[tuple[str, tuple[Any, ...]]]]:
    """The ids of one page, and the statements that served it."""
    async with db_pool.acquire() as conn:
        logging = _LoggingPool(conn)
        page = await user_service.list_users(
            cast(asyncpg.Pool, logging), request.org_id, request, MAX_PAGE
        )
    return [u.id for u in page.items], logging.statements


def _page_statement(statements: list[tuple[str, tuple[Any, ...]]]) -> tuple[str, tuple[Any, ...]]:
    [page] = [(q, a) for q, a in statements if q.startswith("SELECT u.id")]
    return page


async def test_a_walk_page_runs_the_same_statements_at_any_depth(db_pool, org):
    await _seed(db_pool, org, 2999)  # and the admin: 3,000
    expected = await _ordered_ids(db_pool, org)
    seen: list[str] = []
    pages = []
    for start in range(1, len(expected) + 1, PAGE):
        ids, statements = await _page(db_pool, _request(org, start))
        seen += ids
        pages.append(statements)
    assert seen == expected
    # A page in the walk: begin, the walk's position, the total, the page,
    # commit, the next page's position; the same statements at every depth.
    queries = [[q for q, _ in p] for p in pages]
    middle = queries[1]
    assert len(middle) == 6
    assert all(q == middle for q in queries[1:-1])
    # The last page leaves no position; the first needs none and reads from
    # the start.
    assert queries[-1] == middle[:-1]
    lookup = next(q for q in middle if q.lstrip().startswith("SELECT w."))
    assert len(queries[0]) == len(middle) - 1
    assert lookup not in queries[0]
    for statements in pages:
        assert not any("OFFSET" in q for q, _ in statements), statements
        assert not any("count(" in q for q, _ in statements), "unfiltered totals are kept"
    # Deep in the walk the page is the first rows of an index range; on the
    # very last page, where the planner expects only a page's rows beyond the
    # position, it may sort those (a page at most), still reading the range.
    deep = await _plan(db_pool, *_page_statement(pages[-10]))
    assert "Index Scan using users_created on users" in deep, deep
    assert "Sort" not in deep, deep
    last = await _plan(db_pool, *_page_statement(pages[-1]))
    assert "Index Scan using users_created" in last or "Index Scan on users_created" in last
    assert "Index Cond: ((org_id = " in last, last
    assert "ROW(created, id) > ROW(" in last.split("Index Cond:", 1)[1], last
    assert "Seq Scan" not in last, last


async def _plan(db_pool: asyncpg.Pool, query: str, args: tuple[Any, ...]) -> str:
    assert "(u.created, u.id) >" in query
    async with db_pool.acquire() as conn:
        return "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {query}", *args))


async def test_a_jump_reads_by_offset_and_then_walks_on(db_pool, org):
    await _seed(db_pool, org, 999)
    expected = await _ordered_ids(db_pool, org)
    await _page(db_pool, _request(org, 1))  # leaves a position for startIndex 101
    jumped, statements = await _page(db_pool, _request(org, 501))
    assert jumped == expected[500:600]
    assert "OFFSET" in _page_statement(statements)[0]
    walked_on, statements = await _page(db_pool, _request(org, 601))
    assert walked_on == expected[600:700]
    assert "OFFSET" not in _page_statement(statements)[0]


async def test_a_retried_page_answers_the_same_rows(db_pool, org):
    await _seed(db_pool, org, 399)
    expected = await _ordered_ids(db_pool, org)
    for start in (1, 101):
        await _page(db_pool, _request(org, start))
    first, _ = await _page(db_pool, _request(org, 201))
    again, statements = await _page(db_pool, _request(org, 201))  # the answer was lost
    assert again == first == expected[200:300]
    assert "OFFSET" not in _page_statement(statements)[0]
    assert (await _page(db_pool, _request(org, 301)))[0] == expected[300:400]


async def test_positions_belong_to_one_filter_and_one_org(db_pool, org, admin):
    await _seed(db_pool, org, 300, "b")
    await _seed(db_pool, org, 299, "a")  # after the b's: `a`'s 100th row is not the 100th
    expected = await _ordered_ids(db_pool, org)
    only_a = pb.Filter(
        comparison=pb.Comparison(
            path=pb.AttributePath(attribute="userName"), operator=pb.SW, value=value("a")
        )
    )
    await _page(db_pool, _request(org, 1, filter=only_a))  # a position for 101 of `a` only
    unfiltered, _ = await _page(db_pool, _request(org, 101))
    assert unfiltered == expected[100:200]
    elsewhere = await _other_org(admin)
    assert (await _page(db_pool, _request(elsewhere, 101)))[0] == []


async def test_an_explicit_sort_walks_by_offset(db_pool, org):
    await _seed(db_pool, org, 249)
    by_name = pb.SortOrder(by=pb.AttributePath(attribute="userName"))
    seen: list[str] = []
    for start in (1, 101, 201):
        ids, statements = await _page(db_pool, _request(org, start, sort=by_name))
        seen += ids
        assert ("OFFSET" in _page_statement(statements)[0]) == (start > 1)
    assert sorted(seen) == sorted(await _ordered_ids(db_pool, org))


async def _other_org(admin) -> str:
    org_id = new_org_id()
    await admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=org_id, name="Other", admin_email="a@x.test")
    )
    return org_id
