"""A request log page walks the index of its filter, newest first, whatever the plan (issue 12).

The product's own statements (db/request_log.py) are EXPLAINed on an org with
thousands of entries, mostly successful Okta GETs of /Users, analyzed. Each
is planned twice: as asyncpg's first executions are (custom plans) and as a
prepared statement may later be (generic), where an empty filter parameter is
not known to be empty; the filter that leads must still find its index.
"""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from identity_svc.db import request_log
from identity_svc.domain.request_log import RequestQuery
from tests.identity_svc.support import new_org_id

SIZE = 20_000


@pytest.fixture
async def busy(conn: asyncpg.Connection) -> str:
    org = new_org_id()
    await conn.execute("INSERT INTO orgs (org_id, name) VALUES ($1, 'Busy')", org)
    # 1 in 100 a failure, 1 in 50 a DELETE, 1 in 20 of Groups, 1 in 40 from Entra.
    await conn.execute(
        """
        INSERT INTO request_log (org_id, time, method, route, resource, status, latency_ms, idp)
        SELECT $1, now() - i * interval '1 second',
            CASE WHEN i % 50 = 0 THEN 'DELETE' ELSE 'GET' END,
            CASE WHEN i % 20 = 0 THEN '/Groups' ELSE '/Users' END,
            CASE WHEN i % 20 = 0 THEN 'groups' ELSE 'users' END,
            CASE WHEN i % 100 = 7 THEN 500 ELSE 200 END,
            2.0,
            CASE WHEN i % 40 = 3 THEN 'entra' ELSE 'okta' END
        FROM generate_series(1, $2) AS i
        """,
        org,
        SIZE,
    )
    await conn.execute("ANALYZE request_log")
    return org


CURSOR = (datetime.now(UTC), 10**9)
# (the query's filters, the indexes its page may walk: those of its filters).
# A filtered page may also collect its few rows through a bitmap of such an
# index and sort them; an unfiltered one must walk the org newest first,
# never sort it.
CASES = {
    "newest": ({}, {"request_log_pkey"}),
    "older than a cursor": ({"before": CURSOR}, {"request_log_pkey"}),
    "failures": ({"outcome": "failure"}, {"request_log_failures"}),
    "failed DELETEs": (
        {"outcome": "failure", "method": "DELETE"},
        {"request_log_failures", "request_log_by_method"},
    ),
    "DELETEs": ({"method": "DELETE"}, {"request_log_by_method"}),
    "groups": ({"resource": "groups"}, {"request_log_by_resource"}),
    "from Entra": ({"idp": "entra"}, {"request_log_by_idp"}),
}


def _type(value: object) -> str:
    if isinstance(value, datetime):
        return "timestamptz"
    return "bigint" if isinstance(value, int) else "text"


def _literal(value: object) -> str:
    if isinstance(value, int):
        return str(value)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


async def _plan(conn: asyncpg.Connection, statement: str, args: list[object]) -> str:
    """The plan of `statement` run as a prepared statement is, under plan_cache_mode."""
    types = ", ".join(_type(a) for a in args)
    await conn.execute(f"PREPARE page ({types}) AS {statement}")
    try:
        values = ", ".join(_literal(a) for a in args)
        rows = await conn.fetch(f"EXPLAIN EXECUTE page({values})")
    finally:
        await conn.execute("DEALLOCATE page")
    return "\n".join(row[0] for row in rows)


@pytest.mark.parametrize("plan_mode", ["force_custom_plan", "force_generic_plan"])
async def test_each_filter_walks_its_index(conn, busy, plan_mode):
    await conn.execute(f"SET LOCAL plan_cache_mode = {plan_mode}")
    wrong = {}
    for case, (filters, indexes) in CASES.items():
        query = RequestQuery(org_id=busy, **filters)  # type: ignore[arg-type]
        plan = await _plan(conn, *request_log.page_statement(query, 51))
        generic = "$1" in plan
        walks_the_org = indexes == {"request_log_pkey"}
        if not any(i in plan for i in indexes) or "Seq Scan" in plan:
            wrong[case] = plan
        elif walks_the_org and "Sort" in plan:
            wrong[case] = plan
        elif generic != (plan_mode == "force_generic_plan"):
            wrong[case] = f"not a {plan_mode} plan:\n{plan}"
    assert not wrong, "\n\n".join(f"{case}:\n{plan}" for case, plan in wrong.items())
