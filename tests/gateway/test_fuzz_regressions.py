"""Defects schemathesis found (tests/gateway/test_fuzz.py), each kept as a plain test."""

from __future__ import annotations

from typing import Any

from scim_schema.urns import BULK_REQUEST
from scim_schema.urns import CORE_USER as USER
from tests.gateway.conftest import Tenant


async def test_a_bulk_id_that_is_not_a_string_fails_its_operation(
    http: Any, tenant: Tenant
) -> None:
    """RFC 7644 §3.7: bulkId is a string. A number was echoed as a number, and its POST ran."""
    response = await http.post(
        f"{tenant.base}/Bulk",
        json={
            "schemas": [BULK_REQUEST],
            "Operations": [
                {
                    "method": "POST",
                    "path": "/Users",
                    "bulkId": 30.0,
                    "data": {"schemas": [USER], "userName": "ada@acme.test"},
                },
            ],
        },
        headers=tenant.headers(),
    )
    assert response.status == 200
    (result,) = (await response.json(content_type=None))["Operations"]
    assert result["status"] == "400"
    assert result["response"]["scimType"] == "invalidValue"
    assert "bulkId" not in result
    listed = await http.get(
        f"{tenant.base}/Users",
        params={"filter": 'userName eq "ada@acme.test"'},
        headers=tenant.headers(),
    )
    assert (await listed.json(content_type=None))["totalResults"] == 0


async def test_bulk_schemas_that_is_not_a_list_is_invalid_syntax(http: Any, tenant: Tenant) -> None:
    """A number was a 500 (`in` on a float); a string matched by substring."""
    for schemas in (5.3e-116, BULK_REQUEST):
        response = await http.post(
            f"{tenant.base}/Bulk",
            json={"schemas": schemas, "Operations": []},
            headers=tenant.headers(),
        )
        assert response.status == 400, schemas
        body = await response.json(content_type=None)
        assert body["scimType"] == "invalidSyntax"
