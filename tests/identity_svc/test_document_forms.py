"""A user's document travels as JSON bytes or as a Struct; both name the same document.

The gateway sends and asks for JSON (`attributes_json`, `json_document`); other
and older clients (identityctl, the Directory API, a gateway of the previous
release during a rollout) keep the Struct. Real gRPC, real Postgres.
"""

from __future__ import annotations

import grpc
import orjson
import pytest
from google.protobuf import json_format

from identity_api.v1 import identity_pb2 as pb
from tests.identity_svc.support import GATEWAY, error_reason, struct, user_doc


async def test_a_json_write_reads_back_the_same_in_both_forms(prov, org):
    document = user_doc("ada@x.test", title="Countess", displayName="Ada")
    created = await prov.CreateUser(
        pb.CreateUserRequest(
            context=GATEWAY,
            org_id=org,
            attributes_json=orjson.dumps(document),
            json_document=True,
        )
    )
    assert not created.attributes.fields, "JSON asked for: no Struct built as well"
    assert orjson.loads(created.document_json) == document

    as_struct = await prov.GetUser(pb.GetUserRequest(org_id=org, user_id=created.id))
    assert not as_struct.document_json, "no JSON for a caller that did not ask"
    assert json_format.MessageToDict(as_struct.attributes) == document

    as_json = await prov.GetUser(
        pb.GetUserRequest(org_id=org, user_id=created.id, json_document=True)
    )
    assert orjson.loads(as_json.document_json) == document


async def test_a_struct_write_is_listed_as_json(prov, org):
    document = user_doc("grace@x.test", title="Rear Admiral")
    await prov.CreateUser(
        pb.CreateUserRequest(context=GATEWAY, org_id=org, attributes=struct(document))
    )
    page = await prov.ListUsers(
        pb.ListUsersRequest(org_id=org, json_document=True, page=pb.Page(index=pb.IndexPage()))
    )
    listed = {u.user_name: orjson.loads(u.document_json) for u in page.users}
    assert listed["grace@x.test"] == document


async def test_a_replace_in_json_answers_in_json(prov, org):
    created = await prov.CreateUser(
        pb.CreateUserRequest(context=GATEWAY, org_id=org, attributes=struct(user_doc("k@x.test")))
    )
    replacement = user_doc("k@x.test", title="Navigator")
    replaced = await prov.ReplaceUser(
        pb.ReplaceUserRequest(
            context=GATEWAY,
            org_id=org,
            user_id=created.id,
            attributes_json=orjson.dumps(replacement),
            json_document=True,
        )
    )
    assert orjson.loads(replaced.document_json)["title"] == "Navigator"
    assert replaced.meta.version == 2


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'["a list"]', b'{"userName": "nul\\u0000@x.test"}', b'{"a\\u0000": 1}'],
    ids=["not-json", "not-an-object", "nul-in-a-value", "nul-in-a-key"],
)
async def test_attributes_json_that_postgres_cannot_hold_is_invalid(prov, org, raw):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await prov.CreateUser(
            pb.CreateUserRequest(context=GATEWAY, org_id=org, attributes_json=raw)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == "INVALID_VALUE"


async def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(prov, org):
    # JSON "a\\u0000b" is the six characters a \ u 0 0 0 0 b: no NUL in it.
    document = user_doc("bs@x.test", title="a\\u0000b")
    created = await prov.CreateUser(
        pb.CreateUserRequest(
            context=GATEWAY,
            org_id=org,
            attributes_json=orjson.dumps(document),
            json_document=True,
        )
    )
    assert orjson.loads(created.document_json)["title"] == "a\\u0000b"
