"""identityctl role-map, org default-role and member show, against the real service."""

from __future__ import annotations

import pytest

from tests.identity_svc.member_support import new_group, new_user, set_active
from tests.identityctl.test_cli import ADMIN, cli, create_org, new_org


async def test_role_map_by_name_grants_the_role_shown_by_member_show(env, prov):
    org = new_org()
    await create_org(env, org)
    user = await new_user(prov, org, "ada@example.test")
    await new_group(prov, org, "Graph Admins", user)

    set_ = await cli(
        env, "role-map", "set", org, "--group", "graph admins", "--role", "graph_admin",
        "--actor", ADMIN, "--json",
    )  # fmt: skip
    assert set_.code == 0, set_.err
    rule = set_.json()
    assert (rule["group_name"], rule["group_id"], rule["role"]) == (
        "graph admins",
        None,
        "GRAPH_ADMIN",
    )
    assert rule["created_by"] == f"admin:{ADMIN}"

    shown = await cli(env, "member", "show", org, "ADA@example.test", "--json")
    assert shown.code == 0, shown.err
    data = shown.json()
    assert (data["active"], data["role"], data["direct_role"], data["suspended"]) == (
        True,
        "GRAPH_ADMIN",
        None,
        False,
    )
    assert [g["display_name"] for g in data["groups"]] == ["Graph Admins"]
    text = await cli(env, "member", "show", org, "ada@example.test")
    assert "role:        GRAPH_ADMIN" in text.out

    await set_active(prov, org, user, False)
    suspended = (await cli(env, "member", "show", org, "ada@example.test", "--json")).json()
    assert (suspended["active"], suspended["role"], suspended["suspended"]) == (False, None, True)


async def test_role_map_by_group_id_list_and_delete(env, prov):
    org = new_org()
    await create_org(env, org)
    group = await new_group(prov, org, "Observers")
    set_ = await cli(
        env, "role-map", "set", org, "--group-id", group, "--role", "OBSERVER", "--actor", ADMIN
    )
    assert set_.code == 0, set_.err
    assert f"group id {group}" in set_.out

    listed = await cli(env, "role-map", "list", org, "--json")  # as the operator
    assert listed.code == 0, listed.err
    rules = listed.json()["rules"]
    assert [(r["group_id"], r["role"]) for r in rules] == [(group, "OBSERVER")]
    as_admin = await cli(env, "role-map", "list", org, "--actor", ADMIN)
    assert "OBSERVER" in as_admin.out

    deleted = await cli(env, "role-map", "delete", org, rules[0]["id"], "--actor", ADMIN, "--json")
    assert deleted.code == 0, deleted.err
    assert deleted.json()["deleted"] is True
    empty = await cli(env, "role-map", "list", org)
    assert "No role rules" in empty.out
    again = await cli(env, "role-map", "delete", org, rules[0]["id"], "--actor", ADMIN)
    assert again.code == 1
    assert "not found" in again.err


async def test_org_default_role_set_and_clear(env, prov):
    org = new_org()
    await create_org(env, org)
    await new_user(prov, org, "plain@example.test")
    result = await cli(env, "org", "default-role", org, "consumer", "--actor", ADMIN, "--json")
    assert result.code == 0, result.err
    assert result.json()["default_role"] == "CONSUMER"
    member = (await cli(env, "member", "show", org, "plain@example.test", "--json")).json()
    assert member["role"] == "CONSUMER"
    listed = (await cli(env, "role-map", "list", org, "--json")).json()
    assert listed == {"default_role": "CONSUMER", "rules": []}

    cleared = await cli(env, "org", "default-role", org, "--clear", "--actor", ADMIN)
    assert cleared.code == 0, cleared.err
    assert "default role none" in cleared.out
    member = (await cli(env, "member", "show", org, "plain@example.test", "--json")).json()
    assert member["role"] is None


async def test_only_an_org_admin_may_edit_role_maps(env, prov):
    org = new_org()
    await create_org(env, org)
    await new_user(prov, org, "ada@example.test")
    for argv in (
        (
            "role-map",
            "set",
            org,
            "--group",
            "x",
            "--role",
            "ORG_ADMIN",
            "--actor",
            "ada@example.test",
        ),
        ("role-map", "list", org, "--actor", "ada@example.test"),
        ("org", "default-role", org, "ORG_ADMIN", "--actor", "nobody@example.test"),
    ):
        result = await cli(env, *argv)
        assert result.code == 1, argv
        assert "not an Org Admin" in result.err


async def test_member_show_unknown_member(env):
    org = new_org()
    await create_org(env, org)
    result = await cli(env, "member", "show", org, "nobody@example.test")
    assert result.code == 1
    assert "nobody@example.test" in result.err


@pytest.mark.parametrize(
    "argv",
    [
        ("role-map", "set", "o", "--role", "OBSERVER", "--actor", "a@b"),  # no group
        ("role-map", "set", "o", "--group", "g", "--group-id", "i", "--role", "OBSERVER",
         "--actor", "a@b"),
        ("role-map", "set", "o", "--group", "g", "--role", "KING", "--actor", "a@b"),
        ("role-map", "delete", "o", "rule"),  # no actor
        ("org", "default-role", "o", "--actor", "a@b"),  # neither a role nor --clear
        ("org", "default-role", "o", "CONSUMER"),  # no actor
    ],
)  # fmt: skip
async def test_role_usage_errors_exit_2(env, argv):
    result = await cli(env, *argv)
    assert result.code == 2
