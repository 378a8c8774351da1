"""Members' names set by the operator: CreateOrg's admin name and SetMemberName.

SPEC §5: every member, the admin `org create` makes included, carries
name.givenName, name.familyName, a primary work email and `active`, because
Okta's SCIM Spec Test reads them on the first user of GET /Users.
"""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from identity_api.v1 import identity_pb2 as pb
from tests.identity_svc.event_support import drain
from tests.identity_svc.member_support import new_group, new_user
from tests.identity_svc.support import GATEWAY, OPERATOR, error_reason, new_org_id, struct, user_doc

ADMIN = "owner@acme.test"
ADA = {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"}


def as_admin(email: str = ADMIN) -> pb.RequestContext:
    return pb.RequestContext(actor=pb.Actor(admin_email=email), request_id="names-test")


def person(given: str, family: str, display: str | None = None) -> pb.PersonName:
    name = pb.PersonName(given_name=given, family_name=family)
    if display is not None:
        name.display_name = display
    return name


async def create_org(admin, name: pb.PersonName | None) -> str:
    org_id = new_org_id()
    request = pb.CreateOrgRequest(context=OPERATOR, org_id=org_id, name="Acme", admin_email=ADMIN)
    if name is not None:
        request.admin_name.CopyFrom(name)
    await admin.CreateOrg(request)
    return org_id


async def only_user(prov, org_id: str) -> pb.User:
    listed = await prov.ListUsers(pb.ListUsersRequest(org_id=org_id))
    assert listed.total_results == 1
    return listed.users[0]


def document(user: pb.User) -> dict[str, Any]:
    return json_format.MessageToDict(user.attributes)


async def test_the_admin_gets_the_name_an_email_and_active(admin, prov):
    org_id = await create_org(admin, person("Ada", "Lovelace"))
    user = await only_user(prov, org_id)
    doc = document(user)
    assert doc["name"] == ADA
    assert doc["displayName"] == "Ada Lovelace"
    assert doc["emails"] == [{"value": ADMIN, "type": "work", "primary": True}]
    assert doc["active"] is True
    assert user.display_name == "Ada Lovelace"
    assert user.direct_role == pb.ORG_ADMIN


async def test_the_admin_display_name_may_differ(admin, prov):
    org_id = await create_org(admin, person("Ada", "Lovelace", "Countess of Lovelace"))
    doc = document(await only_user(prov, org_id))
    assert doc["displayName"] == "Countess of Lovelace"
    assert doc["name"]["formatted"] == "Ada Lovelace"


async def test_without_a_name_the_admin_has_none(admin, prov):
    org_id = await create_org(admin, None)
    doc = document(await only_user(prov, org_id))
    assert "name" not in doc
    assert "displayName" not in doc


@pytest.mark.parametrize(
    "name",
    [person("", "Lovelace"), person("Ada", "  "), person("Ada", "Lovelace", " "), person("A", "")],
)
async def test_a_blank_admin_name_creates_nothing(admin, name):
    org_id = new_org_id()
    request = pb.CreateOrgRequest(
        context=OPERATOR, org_id=org_id, name="Acme", admin_email=ADMIN, admin_name=name
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.CreateOrg(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == "INVALID_VALUE"
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await admin.GetOrg(pb.GetOrgRequest(org_id=org_id))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_an_over_long_admin_name_creates_nothing(admin):
    org_id = new_org_id()
    request = pb.CreateOrgRequest(
        context=OPERATOR,
        org_id=org_id,
        name="Acme",
        admin_email=ADMIN,
        admin_name=person("A" * 5000, "Lovelace", "Ada"),
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await admin.CreateOrg(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "name.givenName" in str(caught.value.details())
    with pytest.raises(grpc.aio.AioRpcError):
        await admin.GetOrg(pb.GetOrgRequest(org_id=org_id))


async def set_name(admin, org_id: str, user_name: str, name: pb.PersonName, **kw) -> pb.User:
    context = kw.get("context", as_admin())
    request = pb.SetMemberNameRequest(context=context, org_id=org_id, user_name=user_name)
    request.name.CopyFrom(name)
    return (await admin.SetMemberName(request)).user


async def test_set_name_is_a_versioned_write_with_an_event(admin, prov, events):
    org_id = await create_org(admin, None)
    before = await only_user(prov, org_id)
    # userName matches ignoring case, as everywhere (SPEC §3).
    after = await set_name(admin, org_id, ADMIN.upper(), person("Ada", "Lovelace", "Ada L."))
    assert after.id == before.id
    assert after.meta.version == before.meta.version + 1
    assert after.meta.last_modified.ToDatetime() > before.meta.last_modified.ToDatetime()
    doc = document(after)
    assert doc["name"] == ADA
    assert doc["displayName"] == "Ada L."
    assert doc["emails"] == [{"value": ADMIN, "type": "work", "primary": True}]
    stored = await prov.GetUser(pb.GetUserRequest(org_id=org_id, user_id=after.id))
    assert document(stored) == doc
    replayed = await drain(events.WatchEvents(pb.WatchEventsRequest(org_id=org_id)))
    updated = [e for e in replayed if e.type == "user.updated"]
    assert [e.resource_id for e in updated] == [after.id]
    assert updated[0].actor == f"admin:{ADMIN}"
    assert updated[0].request_id == "names-test"
    assert updated[0].data["version"] == after.meta.version


async def test_setting_the_same_name_again_writes_nothing(admin, prov, events):
    org_id = await create_org(admin, person("Ada", "Lovelace"))
    before = await only_user(prov, org_id)
    again = await set_name(admin, org_id, ADMIN, person("Ada", "Lovelace"))
    assert again.meta.version == before.meta.version
    replayed = await drain(events.WatchEvents(pb.WatchEventsRequest(org_id=org_id)))
    assert not [e for e in replayed if e.type == "user.updated"]


async def test_set_name_keeps_the_rest_of_a_provisioned_document(admin, prov):
    org_id = await create_org(admin, person("Ada", "Lovelace"))
    attributes = user_doc("grace@acme.test", externalId="okta-1")
    attributes["name"]["middleName"] = "Brewster"
    created = await prov.CreateUser(
        pb.CreateUserRequest(context=GATEWAY, org_id=org_id, attributes=struct(attributes))
    )
    renamed = await set_name(admin, org_id, "grace@acme.test", person("Grace", "Hopper"))
    doc = document(renamed)
    assert doc["name"] == {
        "givenName": "Grace",
        "familyName": "Hopper",
        "middleName": "Brewster",
        "formatted": "Grace Hopper",
    }
    assert doc["externalId"] == "okta-1"
    assert doc["emails"] == document(created)["emails"]
    assert renamed.active is True


async def test_set_name_of_an_unknown_member_is_not_found(admin):
    org_id = await create_org(admin, None)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await set_name(admin, org_id, "nobody@acme.test", person("No", "Body"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as no_org:
        await set_name(admin, new_org_id(), ADMIN, person("No", "Org"))
    assert no_org.value.code() == grpc.StatusCode.NOT_FOUND


async def test_set_name_needs_an_org_admin(admin, prov):
    org_id = await create_org(admin, None)
    await prov.CreateUser(
        pb.CreateUserRequest(context=GATEWAY, org_id=org_id, attributes=struct(user_doc("m@a.t")))
    )
    # A plain member is not an Org Admin; neither is an outsider.
    for intruder in ("m@a.t", "intruder@acme.test"):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await set_name(admin, org_id, ADMIN, person("X", "Y"), context=as_admin(intruder))
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "name" not in document(await only_admin(prov, org_id))
    # The operator may, like for keys and role rules.
    renamed = await set_name(admin, org_id, ADMIN, person("Ada", "L"), context=OPERATOR)
    assert document(renamed)["name"]["givenName"] == "Ada"


async def only_admin(prov, org_id: str) -> pb.User:
    found = await prov.ListUsers(pb.ListUsersRequest(org_id=org_id))
    return next(u for u in found.users if u.user_name == ADMIN)


@pytest.mark.parametrize("name", [person(" ", "L"), person("A", ""), person("A", "L", "")])
async def test_a_blank_name_changes_nothing(admin, prov, name):
    org_id = await create_org(admin, person("Ada", "Lovelace"))
    before = await only_user(prov, org_id)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await set_name(admin, org_id, ADMIN, name)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    after = await only_user(prov, org_id)
    assert after.meta.version == before.meta.version
    assert document(after) == document(before)


async def test_a_new_display_name_is_a_new_version_of_the_members_groups(admin, prov):
    # A group's resource shows its members' displayNames (members[].display).
    org_id = await create_org(admin, person("Ada", "Lovelace"))
    user_id = await new_user(prov, org_id, "grace@acme.test")
    group_id = await new_group(prov, org_id, "Eng", user_id)
    read = pb.GetGroupRequest(org_id=org_id, group_id=group_id)
    before = await prov.GetGroup(read)
    await set_name(admin, org_id, "grace@acme.test", person("Grace", "Hopper"))
    after = await prov.GetGroup(read)
    assert after.meta.version == before.meta.version + 1
