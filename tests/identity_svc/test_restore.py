"""The restore window (issue 10): a deleted member is kept, restorable, then purged."""

from __future__ import annotations

import grpc
import pytest

from identity_api.v1 import identity_pb2 as pb
from tests.identity_svc.member_support import new_group, new_user
from tests.identity_svc.support import GATEWAY, struct, user_doc


async def _delete(prov, org: str, user_id: str) -> None:
    await prov.DeleteUser(pb.DeleteUserRequest(context=GATEWAY, org_id=org, user_id=user_id))


async def test_a_deleted_member_is_gone_from_scim_and_kept_with_its_groups(prov, org, db_pool):
    user = await new_user(prov, org, "ada@x.test", title="Countess")
    eng = await new_group(prov, org, "Eng", user)
    docs = await new_group(prov, org, "Docs", user)
    stored = await db_pool.fetchrow(
        "SELECT document, version, created FROM users WHERE org_id = $1 AND id = $2::uuid",
        org,
        user,
    )

    await _delete(prov, org, user)

    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=user))
    assert gone.value.code() is grpc.StatusCode.NOT_FOUND
    group = await prov.GetGroup(pb.GetGroupRequest(org_id=org, group_id=eng))
    assert group.member_count == 0
    kept = await db_pool.fetchrow(
        "SELECT user_name, document, version, created, group_ids::text[] AS groups, deleted_by"
        " FROM deleted_users WHERE org_id = $1 AND id = $2::uuid",
        org,
        user,
    )
    assert kept is not None
    assert (kept["user_name"], kept["document"], kept["version"], kept["created"]) == (
        "ada@x.test",
        stored["document"],
        stored["version"],
        stored["created"],
    )
    assert sorted(kept["groups"]) == sorted([eng, docs])
    assert kept["deleted_by"] == "scim_key:test-key"


async def test_a_new_member_may_take_a_deleted_members_user_name(prov, org):
    first = await new_user(prov, org, "ada@x.test")
    await _delete(prov, org, first)
    again = await prov.CreateUser(
        pb.CreateUserRequest(context=GATEWAY, org_id=org, attributes=struct(user_doc("ada@x.test")))
    )
    assert again.id != first
