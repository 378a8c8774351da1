"""What a PATCH path selects (issue 9, items 3 and 11), over HTTP → gRPC → SQL.

RFC 7644 §3.5.2.3: a replace through a value filter that matches nothing is
400 noTarget and changes nothing; Entra's replace of `emails[type eq
"work"].value` on a user without a work email adds it (SPEC §3, the one
documented exception). A remove whose filter matches nothing is a no-op
(SPEC §3). RFC 7644 §3.5.2.1: adding a value the attribute already holds
never duplicates it; what the added value says (its primary flag) is merged in.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.gateway.conftest import Tenant
from tests.gateway.test_protocol import create_user

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WORK = {"value": "grace@acme.test", "type": "work"}
HOME = {"value": "grace@home.test", "type": "home", "primary": True}


async def _patch(http, tenant: Tenant, user_id: str, *operations: dict[str, Any]):
    return await http.patch(
        f"{tenant.base}/Users/{user_id}",
        json={"schemas": [PATCH], "Operations": list(operations)},
        headers=tenant.headers(),
    )


async def _get(http, tenant: Tenant, user_id: str) -> dict[str, Any]:
    response = await http.get(f"{tenant.base}/Users/{user_id}", headers=tenant.headers())
    assert response.status == 200
    return await response.json(content_type=None)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": 'emails[type eq "home"].value', "value": "h@x.test"},
        {"op": "Replace", "path": 'emails[type eq "other"]', "value": {"value": "o@x.test"}},
        {"op": "replace", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555"},
        {"op": "replace", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Main"},
        {"op": "replace", "path": 'emails[value eq "nobody@x.test"].type', "value": "work"},
    ],
    ids=["email-value", "email-whole", "phone", "address", "by-value"],
)
async def test_replace_through_a_filter_that_matches_nothing_is_no_target(http, tenant, operation):
    user = await create_user(http, tenant, "grace@acme.test", emails=[WORK])
    response = await _patch(http, tenant, user["id"], operation)
    body = await response.json(content_type=None)
    assert response.status == 400, body
    assert (body["status"], body["scimType"]) == ("400", "noTarget")
    assert await _get(http, tenant, user["id"]) == user


async def test_a_no_target_operation_undoes_the_operations_before_it(http, tenant):
    user = await create_user(http, tenant, "grace@acme.test", emails=[WORK])
    response = await _patch(
        http,
        tenant,
        user["id"],
        {"op": "replace", "path": "displayName", "value": "Grace"},
        {"op": "replace", "path": 'emails[type eq "home"].value', "value": "h@x.test"},
    )
    assert response.status == 400
    assert await _get(http, tenant, user["id"]) == user


@pytest.mark.parametrize("emails", [None, [HOME]], ids=["no-emails", "home-only"])
async def test_entras_replace_of_the_work_email_adds_it(http, tenant, emails):
    user = await create_user(http, tenant, "grace@acme.test", emails=emails)
    response = await _patch(
        http,
        tenant,
        user["id"],
        {"op": "Replace", "path": 'emails[type eq "Work"].value', "value": "w@acme.test"},
    )
    body = await response.json(content_type=None)
    assert response.status == 200, body
    assert body["emails"] == [*(emails or []), {"type": "Work", "value": "w@acme.test"}]


async def test_removing_through_a_filter_that_matches_nothing_changes_nothing(http, tenant):
    user = await create_user(http, tenant, "grace@acme.test", emails=[WORK])
    response = await _patch(
        http, tenant, user["id"], {"op": "remove", "path": 'emails[type eq "home"]'}
    )
    assert response.status == 200
    assert await response.json(content_type=None) == user


async def test_adding_an_email_the_user_has_merges_its_primary_flag(http, tenant):
    user = await create_user(http, tenant, "grace@acme.test", emails=[WORK, HOME])
    again = {**WORK, "value": "Grace@ACME.test", "primary": True}  # emails.value ignores case
    response = await _patch(
        http, tenant, user["id"], {"op": "add", "path": "emails", "value": [again]}
    )
    body = await response.json(content_type=None)
    assert response.status == 200, body
    assert body["emails"] == [{**WORK, "primary": True}, {**HOME, "primary": False}]
    found = await http.get(
        f"{tenant.base}/Users",
        params={"filter": 'emails[primary eq true].value eq "grace@acme.test"'},
        headers=tenant.headers(),
    )
    assert [u["id"] for u in (await found.json(content_type=None))["Resources"]] == [user["id"]]


async def test_adding_values_the_user_has_changes_nothing(http, tenant):
    phone = {"value": "+1 555 0100", "type": "work"}
    user = await create_user(http, tenant, "grace@acme.test", emails=[WORK], phoneNumbers=[phone])
    response = await _patch(
        http,
        tenant,
        user["id"],
        {"op": "add", "path": "emails", "value": [WORK]},
        {"op": "add", "value": {"phoneNumbers": [phone]}},
    )
    assert response.status == 200
    assert await response.json(content_type=None) == user


async def test_adding_a_phone_the_user_has_as_primary_does_not_duplicate_it(http, tenant):
    phone = {"value": "+1 555 0100", "type": "work"}
    user = await create_user(http, tenant, "grace@acme.test", phoneNumbers=[phone])
    response = await _patch(
        http,
        tenant,
        user["id"],
        {"op": "add", "path": "phoneNumbers", "value": {**phone, "primary": True}},
    )
    body = await response.json(content_type=None)
    assert body["phoneNumbers"] == [{**phone, "primary": True}]
