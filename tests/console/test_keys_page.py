"""The Keys page over HTTP: the expiry an admin picks reaches the key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.console.conftest import OPERATOR, link_token, sign_in
from tests.gateway.conftest import ADMIN, onboard


async def test_a_key_created_with_an_expiry_lists_it(console, operator_channel):
    # Needs key expiry in the identity service (branch wt-reqlog).
    tenant = await onboard(operator_channel)
    csrf = await sign_in(console, await link_token(operator_channel, tenant.org, ADMIN))
    data = {"csrf": csrf, "name": "Rotating", "expires_in_days": "90"}
    made = await console.post(f"/o/{tenant.org}/keys", data=data)
    assert made.status == 200
    listed = await pb_grpc.OrgAdminStub(operator_channel).ListScimKeys(
        pb.ListScimKeysRequest(context=OPERATOR, org_id=tenant.org)
    )
    (key,) = [k for k in listed.keys if k.name == "Rotating"]
    assert key.HasField("expires")
    expires = key.expires.ToDatetime(tzinfo=UTC)
    assert abs(expires - (datetime.now(UTC) + timedelta(days=90))) < timedelta(minutes=5)
    page = await (await console.get(f"/o/{tenant.org}/keys")).text()
    assert expires.strftime("%Y-%m-%d %H:%M UTC") in page
