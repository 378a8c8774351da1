"""A Bulk request costs one rate-limit token per operation (RFC 7644 §3.7, SPEC §7).

When the key's budget cannot cover every operation, none runs: 429 +
Retry-After, and the org is exactly as it was.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.settings import Settings
from tests.faults import org_state
from tests.gateway.conftest import Tenant, replace

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BURST = 5


@pytest.fixture
async def tight(gateway_settings: Settings) -> AsyncIterator[TestClient[Any, Any]]:
    """A gateway whose keys get BURST tokens and (for a test's length) no more."""
    settings = replace(gateway_settings, rate_limit_per_second=0.01, rate_limit_burst=BURST)
    async with TestClient(TestServer(create_app(settings))) as client:
        yield client


async def _bulk(client: Any, tenant: Tenant, creates: int) -> Any:
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": f"u{i}",
            "data": {"schemas": [USER], "userName": f"bulk{i}-{creates}@acme.test"},
        }
        for i in range(creates)
    ]
    return await client.post(
        f"{tenant.base}/Bulk",
        json={"schemas": [BULK_REQUEST], "Operations": operations},
        headers=tenant.headers(),
    )


async def _get(client: Any, tenant: Tenant) -> int:
    return int((await client.get(f"{tenant.base}/Users", headers=tenant.headers())).status)


async def test_a_bulk_request_spends_a_token_per_operation(tight, tenant):
    response = await _bulk(tight, tenant, 3)
    assert response.status == 200, await response.text()
    body = await response.json(content_type=None)
    assert [r["status"] for r in body["Operations"]] == ["201"] * 3
    assert [await _get(tight, tenant) for _ in range(3)] == [200, 200, 429]


async def test_more_operations_than_tokens_left_run_none(tight, tenant, db_pool):
    assert [await _get(tight, tenant) for _ in range(2)] == [200, 200]
    before = await org_state(db_pool, tenant.org)
    response = await _bulk(tight, tenant, 4)  # 3 tokens left
    body = await response.json(content_type=None)
    assert response.status == 429
    assert response.content_type == "application/scim+json"
    assert int(response.headers["Retry-After"]) >= 1
    assert body["status"] == "429"
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert await org_state(db_pool, tenant.org) == before


async def test_a_bulk_request_above_the_burst_runs_from_a_full_bucket_and_leaves_a_debt(
    tight, tenant
):
    response = await _bulk(tight, tenant, BURST + 3)
    assert response.status == 200, await response.text()
    body = await response.json(content_type=None)
    assert [r["status"] for r in body["Operations"]] == ["201"] * (BURST + 3)
    limited = await tight.get(f"{tenant.base}/Users", headers=tenant.headers())
    assert limited.status == 429
    # 3 tokens of debt and one to spend, at 0.01 tokens/s.
    assert int(limited.headers["Retry-After"]) >= 399
