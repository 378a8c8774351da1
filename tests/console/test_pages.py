"""Connect and Members over HTTP: what the browser journeys do not cover."""

from __future__ import annotations

import json
import re
import uuid

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.console.conftest import OPERATOR, link_token, sign_in
from tests.gateway.conftest import ADMIN, onboard


async def test_connect_says_what_to_do_when_sso_is_off(console, operator_channel):
    org = f"org-{uuid.uuid4().hex[:10]}"
    admin = pb_grpc.OrgAdminStub(operator_channel)
    await admin.CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=org, name="NoSSO", admin_email=ADMIN)
    )
    await sign_in(console, await link_token(operator_channel, org, ADMIN))
    page = await (await console.get(f"/o/{org}/")).text()
    assert "SSO is not configured for this org" in page
    assert "Configure SSO for the org in GraphOS first" in page


async def test_members_come_in_pages_and_search_narrows_them(console, operator_channel):
    tenant = await onboard(operator_channel)
    prov = pb_grpc.ProvisioningStub(operator_channel)
    for n in range(27):
        user = f"user{n:02d}@acme.test"
        document = {"userName": user, "emails": [{"value": user, "primary": True}]}
        await prov.CreateUser(
            pb.CreateUserRequest(
                context=OPERATOR,
                org_id=tenant.org,
                attributes_json=json.dumps(
                    {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **document}
                ).encode(),
            )
        )
    await sign_in(console, await link_token(operator_channel, tenant.org, ADMIN))

    def users(page: str) -> list[str]:
        return re.findall(r'data-user="([^"]+)"', page)

    first = await (await console.get(f"/o/{tenant.org}/members")).text()
    assert "1\N{EN DASH}25 of 28" in first
    assert len(users(first)) == 25
    second = await (await console.get(f"/o/{tenant.org}/members?start=26")).text()
    assert "26\N{EN DASH}28 of 28" in second
    assert len(set(users(first)) | set(users(second))) == 28
    found = await (await console.get(f"/o/{tenant.org}/members?q=USER1")).text()
    assert sorted(users(found)) == [f"user{n}@acme.test" for n in range(10, 20)]
