"""Indexed values are limited in UTF-8 bytes too, not only in characters (issue 9, item 9).

1,000 CJK characters are within the 1,024-character limit but are 3,000
bytes, more than a btree index entry holds (2,704): each attribute that lands
in an index answers 400 invalidValue naming itself and the byte limit, on
create, PUT and PATCH, and changes nothing. A value at the byte limit, with
letters that lower() lengthens, is stored and found.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.domain.limits import MAX_INDEXED_BYTES
from tests.gateway.conftest import ADMIN, Tenant
from tests.gateway.test_protocol import create_user, user_body
from tests.identity_svc.support import error_reason

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def cjk(count: int, seed: int = 9) -> str:
    """`count` random CJK ideographs (3 bytes each in UTF-8, and incompressible)."""
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(count))


TOO_MANY_BYTES = cjk(1000)
# Ⱥ (2 bytes) lowers to ⱥ (3 bytes): the index holds the longer form.
AT_THE_LIMIT = "Ⱥ" * 49 + cjk((MAX_INDEXED_BYTES - 98) // 3)
assert len(AT_THE_LIMIT.encode()) == MAX_INDEXED_BYTES


@dataclass(frozen=True)
class Case:
    """One indexed attribute: where it goes in a create or PUT body, and in a PATCH."""

    name: str  # as the error detail names it
    resource: str
    body: Callable[[str], dict[str, Any]]
    patch: Callable[[str], dict[str, Any]]


def _user(**extra: Any) -> dict[str, Any]:
    return user_body("cjk@acme.test", **extra)


def _path(path: str, value: Any, op: str = "replace") -> dict[str, Any]:
    return {"op": op, "path": path, "value": value}


CASES = [
    Case("userName", "Users", lambda v: _user(userName=v), lambda v: _path("userName", v)),
    Case(
        "emails.value",
        "Users",
        lambda v: _user(emails=[{"value": v, "type": "work"}]),
        lambda v: _path("emails", [{"value": v, "type": "home"}], "add"),
    ),
    Case(
        "name.givenName",
        "Users",
        lambda v: _user(name={"givenName": v, "familyName": "Li"}),
        lambda v: _path("name.givenName", v),
    ),
    Case(
        "name.familyName",
        "Users",
        lambda v: _user(name={"givenName": "Wei", "familyName": v}),
        lambda v: _path("name.familyName", v),
    ),
    Case("displayName", "Users", lambda v: _user(displayName=v), lambda v: _path("displayName", v)),
    # Declared DocumentIndex: an expression index, so bounded like a column.
    Case("title", "Users", lambda v: _user(title=v), lambda v: _path("title", v)),
    Case("externalId", "Users", lambda v: _user(externalId=v), lambda v: _path("externalId", v)),
    Case(
        "displayName",
        "Groups",
        lambda v: {"displayName": v, "members": []},
        lambda v: _path("displayName", v),
    ),
    Case(
        "externalId",
        "Groups",
        lambda v: {"displayName": "G", "externalId": v},
        lambda v: _path("externalId", v),
    ),
]
IDS = [f"{case.resource}.{case.name}" for case in CASES]


async def _refused(response) -> dict[str, Any]:
    body = await response.json(content_type=None)
    assert response.status == 400, body
    assert body["scimType"] == "invalidValue"
    assert body["status"] == "400"
    return body


def _names_attribute_and_limit(case: Case, detail: str) -> None:
    assert case.name in detail, detail
    assert f"{MAX_INDEXED_BYTES} bytes" in detail, detail


async def _total(http, tenant: Tenant, resource: str) -> int:
    response = await http.get(f"{tenant.base}/{resource}?count=0", headers=tenant.headers())
    return int((await response.json(content_type=None))["totalResults"])


async def _existing(http, tenant: Tenant, case: Case) -> dict[str, Any]:
    response = await http.post(
        f"{tenant.base}/{case.resource}", json=case.body("plain"), headers=tenant.headers()
    )
    assert response.status == 201, await response.text()
    return await response.json(content_type=None)


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_create_with_too_many_bytes_is_invalid_and_creates_nothing(http, tenant, case):
    before = await _total(http, tenant, case.resource)
    response = await http.post(
        f"{tenant.base}/{case.resource}", json=case.body(TOO_MANY_BYTES), headers=tenant.headers()
    )
    _names_attribute_and_limit(case, (await _refused(response))["detail"])
    assert await _total(http, tenant, case.resource) == before


@pytest.mark.parametrize("how", ["PUT", "PATCH"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_update_with_too_many_bytes_is_invalid_and_changes_nothing(http, tenant, case, how):
    existing = await _existing(http, tenant, case)
    url = f"{tenant.base}/{case.resource}/{existing['id']}"
    if how == "PUT":
        response = await http.put(url, json=case.body(TOO_MANY_BYTES), headers=tenant.headers())
    else:
        patch = {"schemas": [PATCH], "Operations": [case.patch(TOO_MANY_BYTES)]}
        response = await http.patch(url, json=patch, headers=tenant.headers())
    _names_attribute_and_limit(case, (await _refused(response))["detail"])
    after = await (await http.get(url, headers=tenant.headers())).json(content_type=None)
    assert after == existing


@pytest.mark.parametrize(
    ("attribute", "extra"),
    [
        ("userName", {}),
        ("emails.value", {}),
        ("displayName", {"displayName": AT_THE_LIMIT}),
        ("name.familyName", {"name": {"givenName": "Wei", "familyName": AT_THE_LIMIT}}),
    ],
)
async def test_a_value_at_the_byte_limit_is_stored_and_found(http, tenant, attribute, extra):
    user_name = AT_THE_LIMIT if attribute in ("userName", "emails.value") else "at-limit@acme.test"
    created = await create_user(http, tenant, user_name, **extra)
    value = AT_THE_LIMIT.lower() if attribute != "userName" else AT_THE_LIMIT.upper()
    found = await http.get(
        f"{tenant.base}/Users",
        params={"filter": f'{attribute} eq "{value}"'},
        headers=tenant.headers(),
    )
    listed = await found.json(content_type=None)
    assert [user["id"] for user in listed["Resources"]] == [created["id"]]


async def test_a_value_the_index_refuses_anyway_is_invalid_not_internal(operator_channel, tenant):
    # Role rules by group name are not checked up front: what reaches the index
    # too long is answered as an invalid value (SQLSTATE class 54), not INTERNAL.
    admin = pb_grpc.OrgAdminStub(operator_channel)
    context = pb.RequestContext(actor=pb.Actor(admin_email=ADMIN))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await admin.SetRoleRule(
            pb.SetRoleRuleRequest(
                context=context,
                org_id=tenant.org,
                group_display_name=TOO_MANY_BYTES,
                role=pb.GRAPH_ADMIN,
            )
        )
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(refused.value) == "INVALID_VALUE"
    listed = await admin.ListRoleRules(pb.ListRoleRulesRequest(context=context, org_id=tenant.org))
    assert not listed.rules
