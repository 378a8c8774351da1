"""The deprovisioning brake through real gateways, gRPC and Postgres (issue #10).

A burst of deactivations from several gateway replicas is admitted exactly up
to the org's budget; the rest get 429 + Retry-After + a SCIM error and change
nothing; everything else keeps working; a release lets the IdP's retries in.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from tests.gateway.conftest import ADMIN, Tenant

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
AS_ADMIN = pb.RequestContext(actor=pb.Actor(admin_email=ADMIN), request_id="brake-test")

FLOOR = 4


@pytest.fixture
def admin(operator_channel: Any) -> pb_grpc.OrgAdminStub:
    return pb_grpc.OrgAdminStub(operator_channel)


@pytest.fixture
async def replicas(gateway_settings: Any) -> Any:
    """Two gateways, each with its own channel to the identity service."""
    async with (
        TestClient(TestServer(create_app(gateway_settings))) as one,
        TestClient(TestServer(create_app(gateway_settings))) as two,
    ):
        yield one, two


async def _brake(admin: Any, org: str, *, floor: int = FLOOR, enabled: bool = True) -> None:
    await admin.SetDeprovisioningBrake(
        pb.SetDeprovisioningBrakeRequest(
            context=AS_ADMIN,
            org_id=org,
            enabled=enabled,
            floor=floor,
            share_percent=0,
            window_seconds=900,
        )
    )


async def _users(http: Any, tenant: Tenant, count: int, prefix: str = "m") -> list[str]:
    ids = []
    for n in range(count):
        body = {"schemas": [USER], "userName": f"{prefix}{n}@acme.test", "active": True}
        response = await http.post(f"{tenant.base}/Users", json=body, headers=tenant.headers())
        assert response.status == 201, await response.text()
        ids.append((await response.json(content_type=None))["id"])
    return ids


async def _get_brake(admin: Any, org: str, context: pb.RequestContext = AS_ADMIN) -> Any:
    return await admin.GetDeprovisioningBrake(
        pb.GetDeprovisioningBrakeRequest(org_id=org, context=context)
    )


def _deactivate(http: Any, tenant: Tenant, user_id: str) -> Any:
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    return http.patch(f"{tenant.base}/Users/{user_id}", json=body, headers=tenant.headers())


async def _refused(response: Any) -> str:
    assert response.status == 429, await response.text()
    assert response.headers["Content-Type"].startswith("application/scim+json")
    assert int(response.headers["Retry-After"]) > 0
    body = await response.json(content_type=None)
    assert body["schemas"] == [ERROR]
    assert body["status"] == "429"
    assert "identityctl deprovisioning release" in body["detail"]
    return str(body["detail"])


async def _active(http: Any, tenant: Tenant, user_id: str) -> bool:
    response = await http.get(f"{tenant.base}/Users/{user_id}", headers=tenant.headers())
    return bool((await response.json(content_type=None))["active"])


async def _event_types(events_channel: Any, org: str) -> list[str]:
    call = pb_grpc.EventsStub(events_channel).WatchEvents(
        pb.WatchEventsRequest(org_id=org, after_seq=0, follow=False)
    )
    return [event.type async for event in call]


async def test_a_burst_from_two_replicas_is_admitted_exactly_up_to_the_budget(
    replicas, tenant, admin, operator_channel
):
    one, two = replicas
    await _brake(admin, tenant.org)
    users = await _users(one, tenant, 10)

    responses = await asyncio.gather(
        *(_deactivate(one if n % 2 else two, tenant, u) for n, u in enumerate(users))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] * FLOOR + [429] * (len(users) - FLOOR)
    for response in responses:
        if response.status == 429:
            await _refused(response)
    # Refused requests changed nothing: exactly the budget is suspended.
    still_active = [u for u in users if await _active(one, tenant, u)]
    assert len(still_active) == len(users) - FLOOR

    brake = await admin.GetDeprovisioningBrake(
        pb.GetDeprovisioningBrakeRequest(org_id=tenant.org, context=AS_ADMIN)
    )
    assert brake.HasField("tripped_at")
    assert brake.in_window == FLOOR
    types = await _event_types(operator_channel, tenant.org)
    assert types.count("org.deprovisioning_paused") == 1
    assert types.count("user.deactivated") == FLOOR


async def test_while_tripped_creates_updates_and_reactivations_pass_and_deletes_do_not(
    http, tenant, admin
):
    await _brake(admin, tenant.org, floor=1)
    first, second, third = await _users(http, tenant, 3)
    assert (await _deactivate(http, tenant, first)).status == 200
    await _refused(await _deactivate(http, tenant, second))  # trips it

    # Every later deprovision is refused, whatever its kind...
    await _refused(await http.delete(f"{tenant.base}/Users/{third}", headers=tenant.headers()))
    put = {"schemas": [USER], "userName": "m2@acme.test", "active": False}
    await _refused(
        await http.put(f"{tenant.base}/Users/{third}", json=put, headers=tenant.headers())
    )
    assert await _active(http, tenant, third)

    # ...and everything else goes on.
    assert len(await _users(http, tenant, 1, prefix="new")) == 1
    title = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "CTO"}]}
    response = await http.patch(
        f"{tenant.base}/Users/{second}", json=title, headers=tenant.headers()
    )
    assert response.status == 200
    back = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]}
    response = await http.patch(f"{tenant.base}/Users/{first}", json=back, headers=tenant.headers())
    assert response.status == 200
    assert await _active(http, tenant, first)


async def test_a_release_lets_the_idps_retries_through(http, tenant, admin, operator_channel):
    await _brake(admin, tenant.org, floor=2)
    users = await _users(http, tenant, 6)
    statuses = [(await _deactivate(http, tenant, u)).status for u in users]
    assert statuses == [200, 200, 429, 429, 429, 429]

    # Counting restarts at the release, and --allow admits that many more.
    await admin.ReleaseDeprovisioningBrake(
        pb.ReleaseDeprovisioningBrakeRequest(context=AS_ADMIN, org_id=tenant.org, allow=2)
    )
    retried = [(await _deactivate(http, tenant, u)).status for u in users[2:]]
    assert retried == [200, 200, 200, 200]
    assert not any([await _active(http, tenant, u) for u in users])
    # The budget and the allowance are used up: the next one trips it again.
    extra = await _users(http, tenant, 1, prefix="late")
    await _refused(await _deactivate(http, tenant, extra[0]))
    types = await _event_types(operator_channel, tenant.org)
    assert types.count("org.deprovisioning_paused") == 2
    assert types.count("org.deprovisioning_released") == 1


async def test_removals_from_a_role_mapped_group_count_and_others_do_not(http, tenant, admin):
    await _brake(admin, tenant.org, floor=2)
    users = await _users(http, tenant, 3)
    members = [{"value": u} for u in users]
    mapped = await http.post(
        f"{tenant.base}/Groups",
        json={"schemas": [GROUP], "displayName": "Engineers", "members": members},
        headers=tenant.headers(),
    )
    plain = await http.post(
        f"{tenant.base}/Groups",
        json={"schemas": [GROUP], "displayName": "Book club", "members": members},
        headers=tenant.headers(),
    )
    mapped_id = (await mapped.json(content_type=None))["id"]
    plain_id = (await plain.json(content_type=None))["id"]
    await admin.SetRoleRule(
        pb.SetRoleRuleRequest(
            context=AS_ADMIN, org_id=tenant.org, group_display_name="Engineers", role=pb.CONTRIBUTOR
        )
    )
    remove_all = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "members"}]}

    # An unmapped group's members come and go freely.
    response = await http.patch(
        f"{tenant.base}/Groups/{plain_id}", json=remove_all, headers=tenant.headers()
    )
    assert response.status in (200, 204)
    # Three removals from the mapped group at once exceed the budget of two.
    response = await http.patch(
        f"{tenant.base}/Groups/{mapped_id}", json=remove_all, headers=tenant.headers()
    )
    await _refused(response)
    group = await http.get(f"{tenant.base}/Groups/{mapped_id}", headers=tenant.headers())
    assert len((await group.json(content_type=None))["members"]) == 3


async def test_a_bulk_that_trips_it_applies_what_came_before(http, tenant, admin):
    await _brake(admin, tenant.org, floor=2)
    users = await _users(http, tenant, 3)
    deactivate = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    operations = [{"method": "PATCH", "path": f"/Users/{u}", "data": deactivate} for u in users] + [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": "n",
            "data": {"schemas": [USER], "userName": "after@acme.test"},
        }
    ]
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": operations,
    }
    response = await http.post(f"{tenant.base}/Bulk", json=body, headers=tenant.headers())
    assert response.status == 200, await response.text()
    results = (await response.json(content_type=None))["Operations"]
    assert [r["status"] for r in results] == ["200", "200", "429", "201"]
    assert results[2]["response"]["status"] == "429"
    assert [await _active(http, tenant, u) for u in users] == [False, False, True]


async def test_an_org_with_the_brake_off_is_never_limited(http, tenant, admin):
    await _brake(admin, tenant.org, floor=0, enabled=False)
    users = await _users(http, tenant, 3)
    statuses = [(await _deactivate(http, tenant, u)).status for u in users]
    assert statuses == [200, 200, 200]


async def test_settings_and_release_need_an_org_admin(admin, tenant):
    outsider = pb.RequestContext(actor=pb.Actor(admin_email="mallory@evil.test"))
    for call in (
        admin.SetDeprovisioningBrake(
            pb.SetDeprovisioningBrakeRequest(
                context=outsider, org_id=tenant.org, enabled=False, floor=1, window_seconds=900
            )
        ),
        admin.ReleaseDeprovisioningBrake(
            pb.ReleaseDeprovisioningBrakeRequest(context=outsider, org_id=tenant.org)
        ),
        _get_brake(admin, tenant.org, outsider),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    brake = await admin.GetDeprovisioningBrake(
        pb.GetDeprovisioningBrakeRequest(org_id=tenant.org, context=AS_ADMIN)
    )
    assert (brake.enabled, brake.floor, brake.window_seconds) == (True, 25, 900)


async def test_a_setting_left_out_keeps_its_value(admin, tenant):
    # proto3 would read an omitted `enabled` as false: a partial update must not
    # turn the brake off.
    await admin.SetDeprovisioningBrake(
        pb.SetDeprovisioningBrakeRequest(context=AS_ADMIN, org_id=tenant.org, floor=7)
    )
    brake = await _get_brake(admin, tenant.org)
    assert (brake.enabled, brake.floor, brake.share_percent) == (True, 7, 10.0)


async def test_deleting_an_already_deactivated_member_is_not_counted_again(http, tenant, admin):
    await _brake(admin, tenant.org, floor=2)
    first, second = await _users(http, tenant, 2)
    for user in (first, second):
        assert (await _deactivate(http, tenant, user)).status == 200
    # Entra's way: disabled first, deleted later; the deletions take no one's access.
    for user in (first, second):
        response = await http.delete(f"{tenant.base}/Users/{user}", headers=tenant.headers())
        assert response.status == 204
    assert (await _get_brake(admin, tenant.org)).in_window == 2
