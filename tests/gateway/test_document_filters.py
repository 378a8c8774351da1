"""Every attribute /Schemas publishes can be filtered on through the gateway (issue #11).

Indexed ones through their columns or value rows; the rest (`name`, `addresses`,
...) through the JSON document, unindexed.
"""

from __future__ import annotations

import pytest

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.mark.parametrize(
    ("expression", "found"),
    [
        ("name pr", ["ada@acme.test"]),
        ('addresses.formatted co "MAIN"', ["ada@acme.test"]),
        ('addresses[type eq "work" and primary eq true]', ["ada@acme.test"]),
        ('addresses[type eq "home"]', []),
    ],
)
async def test_attributes_kept_only_in_the_document_are_filterable(http, tenant, expression, found):
    for name, extra in (
        ("ada@acme.test", {"name": {"givenName": "Ada"}, "addresses": [
            {"formatted": "1 Main St", "type": "work", "primary": True}]}),
        ("bob@acme.test", {}),
    ):  # fmt: skip
        body = {"schemas": [USER], "userName": name, **extra}
        response = await http.post(f"{tenant.base}/Users", json=body, headers=tenant.headers())
        assert response.status == 201, await response.text()
    response = await http.get(
        f"{tenant.base}/Users", params={"filter": expression}, headers=tenant.headers()
    )
    assert response.status == 200, await response.text()
    listed = await response.json(content_type=None)
    assert sorted(r["userName"] for r in listed.get("Resources", [])) == found


async def test_a_complex_attribute_is_compared_only_by_presence(http, tenant):
    response = await http.get(
        f"{tenant.base}/Users", params={"filter": 'name eq "Ada"'}, headers=tenant.headers()
    )
    assert response.status == 400
    assert (await response.json(content_type=None))["scimType"] == "invalidFilter"
