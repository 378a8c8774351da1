"""identityctl member deleted / member restore, against the real service (issue 10)."""

from __future__ import annotations

from identity_api.v1 import identity_pb2 as pb
from tests.identity_svc.member_support import new_group, new_user
from tests.identity_svc.support import GATEWAY
from tests.identityctl.test_cli import ADMIN, cli, create_org, new_org


async def _delete(prov, org: str, user_id: str) -> None:
    await prov.DeleteUser(pb.DeleteUserRequest(context=GATEWAY, org_id=org, user_id=user_id))


async def test_deleted_members_are_listed_and_restored(env, prov):
    org = new_org()
    await create_org(env, org)
    user = await new_user(prov, org, "ada@example.test")
    await new_group(prov, org, "Eng", user)
    await _delete(prov, org, user)

    listed = await cli(env, "member", "deleted", org, "--actor", ADMIN, "--json")
    assert listed.code == 0, listed.err
    [member] = listed.json()["members"]
    assert (member["user_name"], member["id"], member["deleted_by"]) == (
        "ada@example.test",
        user,
        "scim_key:test-key",
    )
    assert member["deleted_at"] < member["restorable_until"]
    text = await cli(env, "member", "deleted", org, "--actor", ADMIN)
    assert "ada@example.test" in text.out
    assert "RESTORABLE_UNTIL" in text.out

    restored = await cli(env, "member", "restore", org, "ada@example.test", "--actor", ADMIN)
    assert restored.code == 0, restored.err
    assert f"Restored ada@example.test in {org} (id {user}); groups: Eng" in restored.out
    shown = (await cli(env, "member", "show", org, "ada@example.test", "--json")).json()
    assert (shown["id"], [g["display_name"] for g in shown["groups"]]) == (user, ["Eng"])
    empty = await cli(env, "member", "deleted", org, "--actor", ADMIN)
    assert "No restorable deleted members" in empty.out


async def test_restore_refusals_are_one_clear_line(env, prov):
    org = new_org()
    await create_org(env, org)
    first = await new_user(prov, org, "ada@example.test")
    await _delete(prov, org, first)
    await new_user(prov, org, "ada@example.test")  # the name is taken again

    taken = await cli(env, "member", "restore", org, "ada@example.test", "--actor", ADMIN)
    assert taken.code == 1
    assert "is taken by a newer member; free it first" in taken.err
    unknown = await cli(env, "member", "restore", org, "bob@example.test", "--actor", ADMIN)
    assert (unknown.code, "no deleted member 'bob@example.test'" in unknown.err) == (1, True)
    stranger = await cli(env, "member", "deleted", org, "--actor", "eve@example.test")
    assert (stranger.code, "not an Org Admin" in stranger.err) == (1, True)
    no_actor = await cli(env, "member", "restore", org, "ada@example.test")
    assert no_actor.code == 2


async def test_the_deleted_list_pages(env, prov):
    org = new_org()
    await create_org(env, org)
    for name in ("a@example.test", "b@example.test"):
        await _delete(prov, org, await new_user(prov, org, name))

    first = await cli(env, "member", "deleted", org, "--actor", ADMIN, "--limit", "1", "--json")
    page = first.json()
    assert [m["user_name"] for m in page["members"]] == ["b@example.test"]  # newest first
    text = await cli(env, "member", "deleted", org, "--actor", ADMIN, "--limit", "1")
    assert f"More: --page-token {page['next_page_token']}" in text.out
    rest = await cli(
        env, "member", "deleted", org, "--actor", ADMIN, "--page-token", page["next_page_token"],
        "--json",
    )  # fmt: skip
    assert ([m["user_name"] for m in rest.json()["members"]], rest.json()["next_page_token"]) == (
        ["a@example.test"],
        None,
    )
