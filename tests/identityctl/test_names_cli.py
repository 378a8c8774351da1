"""identityctl names members: `org create --admin-*-name` and `member set-name`.

SPEC §5: Okta's SCIM Spec Test reads name.givenName and name.familyName on the
first user of GET /Users, on a fresh org the admin `org create` made.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format

from identity_api.v1 import identity_pb2 as pb
from tests.identityctl.test_cli import ADMIN, cli, create_org, new_org


async def admin_document(prov, org: str) -> dict[str, Any]:
    listed = await prov.ListUsers(pb.ListUsersRequest(org_id=org))
    (admin,) = [u for u in listed.users if u.user_name == ADMIN]
    return json_format.MessageToDict(admin.attributes)


async def test_org_create_names_the_admin(env, prov):
    org = new_org()
    result = await cli(
        env,
        "org", "create", org, "--name", "Acme", "--admin-email", ADMIN,
        "--admin-given-name", "Ada", "--admin-family-name", "Lovelace",
        "--admin-display-name", "Ada L.",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert result.err == ""
    document = await admin_document(prov, org)
    assert document["name"] == {
        "givenName": "Ada",
        "familyName": "Lovelace",
        "formatted": "Ada Lovelace",
    }
    assert document["displayName"] == "Ada L."
    assert document["emails"] == [{"value": ADMIN, "type": "work", "primary": True}]
    assert document["active"] is True


async def test_the_display_name_defaults_to_given_family(env, prov):
    org = new_org()
    await create_org(env, org)  # --admin-given-name Ada --admin-family-name Admin
    assert (await admin_document(prov, org))["displayName"] == "Ada Admin"


async def test_org_create_without_a_name_warns_how_to_fix_it(env, prov):
    org = new_org()
    result = await cli(
        env, "org", "create", org, "--name", "Acme", "--admin-email", ADMIN, "--json"
    )
    assert result.code == 0, result.err
    assert result.json()["id"] == org  # stdout stays machine-readable
    assert result.err.startswith("warning: ")
    assert "Okta" in result.err
    assert "Spec Test" in result.err
    assert f"identityctl member set-name {org} {ADMIN} --given" in result.err
    assert "name" not in await admin_document(prov, org)


@pytest.mark.parametrize(
    ("flags", "detail"),
    [
        (("--admin-given-name", "Ada"), "name.familyName must not be blank"),
        (("--admin-given-name", " ", "--admin-family-name", "L"), "name.givenName"),
        (("--admin-display-name", "Ada"), "name.givenName must not be blank"),
    ],
)
async def test_an_incomplete_admin_name_creates_no_org(env, flags, detail):
    org = new_org()
    result = await cli(env, "org", "create", org, "--name", "Acme", "--admin-email", ADMIN, *flags)
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert detail in result.err
    assert "Traceback" not in result.err
    assert (await cli(env, "org", "show", org)).code == 1


async def set_name(env, org: str, *args: str) -> Any:
    return await cli(env, "member", "set-name", org, *args)


async def test_member_set_name(env, prov):
    org = new_org()
    await cli(env, "org", "create", org, "--name", "Acme", "--admin-email", ADMIN)
    result = await set_name(
        env, org, ADMIN, "--given", "Ada", "--family", "Lovelace", "--actor", ADMIN, "--json"
    )
    assert result.code == 0, result.err
    data = result.json()
    assert data["user_name"] == ADMIN
    assert data["name"] == {
        "givenName": "Ada",
        "familyName": "Lovelace",
        "formatted": "Ada Lovelace",
    }
    assert data["display_name"] == "Ada Lovelace"
    assert (await admin_document(prov, org))["name"]["familyName"] == "Lovelace"
    text = await set_name(
        env, org, ADMIN, "--given", "Ada", "--family", "King", "--display", "Countess",
        "--actor", ADMIN,
    )  # fmt: skip
    assert text.code == 0, text.err
    assert "'Ada King'" in text.out
    assert "'Countess'" in text.out
    assert (await admin_document(prov, org))["displayName"] == "Countess"


async def test_member_set_name_refusals(env, prov):
    org = new_org()
    await create_org(env, org)
    unknown = await set_name(env, org, "nobody@example.test", "--given", "N", "--family", "B",
                             "--actor", ADMIN)  # fmt: skip
    assert unknown.code == 1
    assert unknown.err.startswith("error: ")
    assert "nobody@example.test" in unknown.err
    intruder = await set_name(
        env, org, ADMIN, "--given", "X", "--family", "Y", "--actor", "intruder@example.test"
    )
    assert intruder.code == 1
    assert "not an Org Admin" in intruder.err
    blank = await set_name(env, org, ADMIN, "--given", "", "--family", "Y", "--actor", ADMIN)
    assert blank.code == 1
    assert blank.err == "error: name.givenName must not be blank\n"
    assert (await admin_document(prov, org))["name"]["givenName"] == "Ada"
    usage = await set_name(env, org, ADMIN, "--given", "X", "--actor", ADMIN)
    assert usage.code == 2  # --family is required
    assert "--family" in usage.err
