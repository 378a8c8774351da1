"""Users over real gRPC and Postgres: CRUD, uniqueness, versions, paging."""

from __future__ import annotations

import uuid

import asyncpg
import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.db import events as events_db
from identity_svc.db import roles as roles_db
from identity_svc.db import users as users_db
from identity_svc.domain.models import Actor, WriteContext
from identity_svc.services import users as user_service
from tests.identity_svc.support import (
    GATEWAY,
    OPERATOR,
    eq,
    error_reason,
    new_org_id,
    path,
    struct,
    user_doc,
    value,
)
from tests.query_log import QueryLog


async def create(prov, org: str, user_name: str, **extra) -> pb.User:
    return await prov.CreateUser(
        pb.CreateUserRequest(
            context=GATEWAY, org_id=org, attributes=struct(user_doc(user_name, **extra))
        )
    )


async def test_create_then_get_round_trips_the_document(prov, org):
    created = await create(prov, org, "Ada@Example.com", externalId="ext-1", title="Countess")
    assert created.user_name == "Ada@Example.com"  # stored with its case
    assert created.meta.version == 1
    fetched = await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=created.id))
    assert fetched.attributes["title"] == "Countess"
    assert fetched.external_id == "ext-1"
    assert fetched.primary_email == "Ada@Example.com"
    assert fetched.meta.created == created.meta.created


async def test_user_name_is_unique_case_insensitively(prov, org):
    await create(prov, org, "grace@example.com")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(prov, org, "GRACE@example.com")
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(caught.value) == "UNIQUENESS"


async def test_same_user_name_in_two_orgs_is_fine(prov, org, operator_channel):
    other = new_org_id()
    await pb_grpc.OrgAdminStub(operator_channel).CreateOrg(
        pb.CreateOrgRequest(context=OPERATOR, org_id=other, name="O", admin_email="a@o.test")
    )
    a = await create(prov, org, "same@example.com")
    b = await create(prov, other, "same@example.com")
    assert a.id != b.id
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prov.GetUser(pb.GetUserRequest(org_id=other, user_id=a.id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_password_is_never_stored(prov, org, db_pool: asyncpg.Pool):
    user = await create(prov, org, "secret@example.com", password="hunter2-Pa55")
    assert "password" not in user.attributes
    stored = await db_pool.fetchval("SELECT document::text FROM users WHERE id = $1::uuid", user.id)
    assert "hunter2" not in stored
    events = await db_pool.fetch("SELECT data::text AS d FROM events WHERE org_id = $1", org)
    assert all("hunter2" not in e["d"] for e in events)


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "", "00000000-0000-0000-0000-000000000000"])
async def test_unknown_or_malformed_id_is_not_found(prov, org, bad_id):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=bad_id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_replace_with_the_same_document_changes_nothing(prov, org, db_pool):
    user = await create(prov, org, "same-doc@example.com")
    before = await db_pool.fetchval("SELECT count(*) FROM events WHERE org_id = $1", org)
    again = await prov.ReplaceUser(
        pb.ReplaceUserRequest(
            context=GATEWAY,
            org_id=org,
            user_id=user.id,
            attributes=struct(user_doc("same-doc@example.com")),
        )
    )
    assert again.meta.version == 1
    assert await db_pool.fetchval("SELECT count(*) FROM events WHERE org_id = $1", org) == before


async def test_replace_updates_columns_and_bumps_version(prov, org):
    user = await create(prov, org, "old@example.com")
    replaced = await prov.ReplaceUser(
        pb.ReplaceUserRequest(
            context=GATEWAY,
            org_id=org,
            user_id=user.id,
            attributes=struct(user_doc("new@example.com", active=False)),
        )
    )
    assert (replaced.user_name, replaced.active, replaced.meta.version) == (
        "new@example.com",
        False,
        2,
    )
    found = await prov.ListUsers(
        pb.ListUsersRequest(org_id=org, filter=eq("userName", "NEW@example.com"))
    )
    assert [u.id for u in found.users] == [user.id]


async def test_expected_version_mismatch_is_aborted_and_changes_nothing(prov, org):
    user = await create(prov, org, "etag@example.com")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prov.ReplaceUser(
            pb.ReplaceUserRequest(
                context=GATEWAY,
                org_id=org,
                user_id=user.id,
                attributes=struct(user_doc("etag2@example.com")),
                expected_version=7,
            )
        )
    assert caught.value.code() == grpc.StatusCode.ABORTED
    assert error_reason(caught.value) == "VERSION_MISMATCH"
    still = await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=user.id))
    assert still.user_name == "etag@example.com"


async def test_patch_deactivates_like_okta_and_records_the_event(prov, org, db_pool):
    user = await create(prov, org, "okta@example.com")
    patched = await prov.PatchUser(
        pb.PatchUserRequest(
            context=GATEWAY,
            org_id=org,
            user_id=user.id,
            operations=[
                pb.PatchOperation(op=pb.PatchOperation.REPLACE, value=value({"active": False}))
            ],
        )
    )
    assert not patched.active
    assert patched.meta.version == 2
    types = await db_pool.fetch(
        "SELECT type, actor, request_id FROM events"
        " WHERE org_id = $1 AND resource_id = $2 ORDER BY seq",
        org,
        user.id,
    )
    assert [t["type"] for t in types] == ["user.created", "user.updated", "user.deactivated"]
    assert {(t["actor"], t["request_id"]) for t in types} == {("scim_key:test-key", "test-request")}


async def test_patch_with_an_unknown_path_is_invalid_and_applies_nothing(prov, org):
    user = await create(prov, org, "path@example.com")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prov.PatchUser(
            pb.PatchUserRequest(
                context=GATEWAY,
                org_id=org,
                user_id=user.id,
                operations=[
                    pb.PatchOperation(op=pb.PatchOperation.REPLACE, value=value({"active": False})),
                    pb.PatchOperation(
                        op=pb.PatchOperation.REPLACE, path=path("noSuchAttribute"), value=value("x")
                    ),
                ],
            )
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == "INVALID_PATH"
    still = await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=user.id))
    assert still.active
    assert still.meta.version == 1


async def test_delete_removes_user_and_its_memberships(prov, org, db_pool):
    user = await create(prov, org, "leaving@example.com")
    group = await prov.CreateGroup(
        pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name="Eng", member_ids=[user.id])
    )
    await prov.DeleteUser(pb.DeleteUserRequest(context=GATEWAY, org_id=org, user_id=user.id))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=user.id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    after = await prov.GetGroup(pb.GetGroupRequest(org_id=org, group_id=group.id))
    assert after.member_count == 0
    assert after.meta.version == group.meta.version + 1
    rows = await db_pool.fetchval(
        "SELECT count(*) FROM user_values WHERE user_id = $1::uuid", user.id
    )
    assert rows == 0


async def test_index_walk_sees_every_user_exactly_once(prov, org):
    names = [f"walk{i:02d}@example.com" for i in range(23)]
    for name in names:
        await create(prov, org, name)
    seen: list[str] = []
    start = 1
    while True:
        page = await prov.ListUsers(
            pb.ListUsersRequest(
                org_id=org, page=pb.Page(index=pb.IndexPage(start_index=start, count=5))
            )
        )
        assert page.total_results == 24  # and the org's admin
        if not page.users:
            break
        seen += [u.user_name for u in page.users]
        start += len(page.users)
    assert sorted(seen) == sorted([*names, "admin@x.test"])


async def test_count_zero_gives_only_the_total(prov, org):
    page = await prov.ListUsers(
        pb.ListUsersRequest(org_id=org, page=pb.Page(index=pb.IndexPage(start_index=1, count=0)))
    )
    assert (page.total_results, len(page.users)) == (1, 0)


async def test_cursor_walk_is_not_disturbed_by_inserts(prov, org):
    for i in range(6):
        await create(prov, org, f"cur{i}@example.com")
    seen: list[str] = []
    cursor = ""
    while True:
        page = await prov.ListUsers(
            pb.ListUsersRequest(
                org_id=org, page=pb.Page(cursor=pb.CursorPage(cursor=cursor, count=2))
            )
        )
        seen += [u.user_name for u in page.users]
        if not seen or len(seen) == 2:
            await create(prov, org, "late@example.com")  # lands after the walk's position
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 8
    assert seen[-1] == "late@example.com"


async def test_unary_list_pages_carry_the_previous_cursor(prov, org):
    for i in range(4):
        await create(prov, org, f"prev{i}@example.com")
        await prov.CreateGroup(
            pb.CreateGroupRequest(context=GATEWAY, org_id=org, display_name=f"G{i}")
        )

    def page(cursor: str) -> pb.Page:
        return pb.Page(cursor=pb.CursorPage(cursor=cursor, count=2))

    first = await prov.ListUsers(pb.ListUsersRequest(org_id=org, page=page("")))
    second = await prov.ListUsers(pb.ListUsersRequest(org_id=org, page=page(first.next_cursor)))
    assert first.previous_cursor == ""
    back = await prov.ListUsers(pb.ListUsersRequest(org_id=org, page=page(second.previous_cursor)))
    assert [u.id for u in back.users] == [u.id for u in first.users]
    assert back.previous_cursor == ""
    groups = await prov.ListGroups(pb.ListGroupsRequest(org_id=org, page=page("")))
    later = await prov.ListGroups(pb.ListGroupsRequest(org_id=org, page=page(groups.next_cursor)))
    earlier = await prov.ListGroups(
        pb.ListGroupsRequest(org_id=org, page=page(later.previous_cursor))
    )
    assert [g.id for g in earlier.groups] == [g.id for g in groups.groups]


async def test_a_bad_cursor_is_invalid(prov, org):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prov.ListUsers(
            pb.ListUsersRequest(
                org_id=org, page=pb.Page(cursor=pb.CursorPage(cursor="garbage!", count=2))
            )
        )
    assert error_reason(caught.value) == "INVALID_CURSOR"


async def test_sorted_listing(prov, org):
    for name in ["b@example.com", "C@example.com", "a@example.com"]:
        await create(prov, org, name)
    page = await prov.ListUsers(
        pb.ListUsersRequest(
            org_id=org,
            sort=pb.SortOrder(by=pb.AttributePath(attribute="userName"), descending=True),
        )
    )
    assert [u.user_name for u in page.users] == [
        "C@example.com",
        "b@example.com",
        "admin@x.test",
        "a@example.com",
    ]


async def test_groups_of_a_user(prov, org):
    user = await create(prov, org, "member@example.com")
    for name in ["Zeta", "Alpha"]:
        await prov.CreateGroup(
            pb.CreateGroupRequest(
                context=GATEWAY, org_id=org, display_name=name, member_ids=[user.id]
            )
        )
    refs = await prov.ListUserGroups(pb.ListUserGroupsRequest(org_id=org, user_id=user.id))
    assert [g.display_name for g in refs.groups] == ["Alpha", "Zeta"]
    fetched = await prov.GetUser(
        pb.GetUserRequest(org_id=org, user_id=user.id, include_groups=True)
    )
    assert fetched.groups_included
    assert len(fetched.groups) == 2


async def test_a_write_without_an_actor_is_refused(prov, org):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prov.CreateUser(
            pb.CreateUserRequest(org_id=org, attributes=struct(user_doc("noactor@example.com")))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_cursor_walk_in_a_sort_order(prov, org):
    for name in ["d@example.com", "b@example.com", "c@example.com"]:
        await create(prov, org, name)
    by_name = pb.SortOrder(by=pb.AttributePath(attribute="userName"))
    seen: list[str] = []
    cursor = ""
    while True:
        page = await prov.ListUsers(
            pb.ListUsersRequest(
                org_id=org, sort=by_name, page=pb.Page(cursor=pb.CursorPage(cursor=cursor, count=3))
            )
        )
        seen += [u.user_name for u in page.users]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == ["admin@x.test", "b@example.com", "c@example.com", "d@example.com"]


async def test_nul_characters_are_an_invalid_value_not_a_fault(prov, org):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await create(prov, org, "nul\x00@example.com")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == "INVALID_VALUE"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prov.ListUsers(pb.ListUsersRequest(org_id=org, filter=eq("userName", "a\x00")))
    assert error_reason(caught.value) == "INVALID_VALUE"


async def _value_rows(db_pool, org: str, user_id: str) -> list[tuple[object, ...]]:
    rows = await db_pool.fetch(
        "SELECT attribute, position, value, type, is_primary FROM user_values"
        " WHERE org_id = $1 AND user_id = $2 ORDER BY attribute, position",
        org,
        user_id,
    )
    return [tuple(r) for r in rows]


async def test_a_replace_leaves_exactly_the_new_indexed_values(prov, org, db_pool):
    emails = [
        {"value": "a@x.test", "type": "work", "primary": True},
        {"value": "b@x.test", "type": "home"},
        {"value": "c@x.test", "type": "other"},
    ]
    user = await create(prov, org, "values@x.test", emails=emails)
    assert len(await _value_rows(db_pool, org, user.id)) == 3
    # Fewer values, one changed in place, one kept as it was.
    kept = [{"value": "a@x.test", "type": "work", "primary": True}, {"value": "z@x.test"}]
    await prov.ReplaceUser(
        pb.ReplaceUserRequest(
            context=GATEWAY,
            org_id=org,
            user_id=user.id,
            attributes=struct(user_doc("values@x.test", emails=kept)),
        )
    )
    assert await _value_rows(db_pool, org, user.id) == [
        ("emails", 0, "a@x.test", "work", True),
        ("emails", 1, "z@x.test", None, False),
    ]
    for address, found in (("b@x.test", 0), ("c@x.test", 0), ("z@x.test", 1)):
        listed = await prov.ListUsers(
            pb.ListUsersRequest(org_id=org, filter=eq("emails", address, sub="value"))
        )
        assert listed.total_results == found, address


async def test_a_create_is_one_statement_between_its_lock_and_its_events(db_pool, org):
    log = QueryLog(db_pool)
    context = WriteContext(Actor("scim_key", "k"), "r")
    document = user_doc("one@x.test", emails=[{"value": "one@x.test", "type": "work"}])
    created = await user_service.create_user(log.pool, context, org, document)
    # The user and its indexed values go in together: one round trip, not one per table.
    assert log.statements == [
        "BEGIN;",
        roles_db._HOLD_RULES_SHARED,
        users_db._INSERT_USER,
        events_db._STAGE_EVENTS,
        "COMMIT;",
    ]
    stored = await db_pool.fetch(
        "SELECT attribute, value FROM user_values WHERE org_id = $1 AND user_id = $2",
        org,
        uuid.UUID(created.id),
    )
    assert ("emails", "one@x.test") in {(r["attribute"], r["value"]) for r in stored}


async def test_a_replace_is_one_statement_between_its_lock_and_its_events(db_pool, org):
    context = WriteContext(Actor("scim_key", "k"), "r")
    created = await user_service.create_user(db_pool, context, org, user_doc("two@x.test"))
    log = QueryLog(db_pool)
    changed = user_doc("two@x.test", title="Engineer")
    await user_service.replace_user(log.pool, context, org, created.id, changed, None, False)
    assert log.statements == [
        "BEGIN;",
        users_db._LOCK_USER,
        users_db._UPDATE_USER,  # columns, document and indexed values together
        events_db._STAGE_EVENTS,
        "COMMIT;",
    ]
