"""dateTime filters compare at the precision we return (issue 9, item 2).

`meta.created le "<the value we returned>"` must find that very resource:
for every user and group, `eq`, `le` and `ge` on its own `meta.created` and
`meta.lastModified`, as returned (in any UTC offset), find it, and `gt` and
`lt` do not. Each example creates its own resource, over the real gateway.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gateway.conftest import Tenant

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
FINDS = {"eq": True, "le": True, "ge": True, "gt": False, "lt": False}
EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _in_offset(returned: str, minutes: int) -> str:
    """The same instant as `returned`, written with another UTC offset, milliseconds kept."""
    instant = datetime.fromisoformat(returned).astimezone(timezone(timedelta(minutes=minutes)))
    return instant.isoformat(timespec="milliseconds")


async def _create(http, tenant: Tenant, resource: str, modified: bool) -> dict[str, Any]:
    body = (
        {"userName": f"{uuid.uuid4().hex}@acme.test"}
        if resource == "Users"
        else {"displayName": "G"}
    )
    created = await http.post(f"{tenant.base}/{resource}", json=body, headers=tenant.headers())
    assert created.status == 201, await created.text()
    document: dict[str, Any] = await created.json(content_type=None)
    if modified:  # lastModified moves past created
        rename = {"op": "replace", "path": "displayName", "value": "Renamed"}
        patched = await http.patch(
            f"{tenant.base}/{resource}/{document['id']}",
            json={"schemas": [PATCH], "Operations": [rename]},
            headers=tenant.headers(),
        )
        assert patched.status == 200, await patched.text()
        document = await patched.json(content_type=None)
    return document


async def _found(http, tenant: Tenant, resource: str, expression: str) -> list[str]:
    response = await http.get(
        f"{tenant.base}/{resource}", params={"filter": expression}, headers=tenant.headers()
    )
    assert response.status == 200, await response.text()
    return [found["id"] for found in (await response.json(content_type=None))["Resources"]]


@EXAMPLES
@given(
    resource=st.sampled_from(["Users", "Groups"]),
    modified=st.booleans(),
    offset=st.sampled_from([0, 0, 60, -300, 330, 840, -720]),
)
async def test_a_resources_own_timestamps_find_it(http, tenant, resource, modified, offset):
    document = await _create(http, tenant, resource, modified)
    for attribute in ("created", "lastModified"):
        returned = document["meta"][attribute]
        value = _in_offset(returned, offset) if offset else returned
        for op, finds in FINDS.items():
            expression = f'id eq "{document["id"]}" and meta.{attribute} {op} "{value}"'
            found = await _found(http, tenant, resource, expression)
            assert found == ([document["id"]] if finds else []), (expression, returned)
