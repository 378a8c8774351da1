from google.protobuf import struct_pb2

from identity_api.v1 import identity_pb2 as pb
from identity_svc.message_text import first_nul_field


def test_clean_messages_pass():
    request = pb.CreateUserRequest(org_id="acme")
    request.attributes.update({"userName": "ada", "emails": [{"value": "a@x"}]})
    assert first_nul_field(request) is None


def test_nul_is_found_wherever_it_hides():
    top = pb.GetUserRequest(org_id="ac\x00me")
    assert first_nul_field(top) == "org_id"
    repeated = pb.ReplaceGroupRequest(member_ids=["ok", "bad\x00"])
    assert first_nul_field(repeated) == "member_ids"
    in_struct = pb.CreateUserRequest()
    in_struct.attributes.update({"name": {"givenName": "A\x00"}})
    assert first_nul_field(in_struct) is not None
    as_key = pb.CreateUserRequest()
    as_key.attributes.update({"us\x00er": "x"})
    assert first_nul_field(as_key) is not None
    in_list = pb.CreateUserRequest()
    in_list.attributes.update({"emails": [{"value": "a\x00@x"}]})
    assert first_nul_field(in_list) is not None
    in_filter = pb.ListUsersRequest(
        filter=pb.Filter(comparison=pb.Comparison(value=struct_pb2.Value(string_value="\x00")))
    )
    assert first_nul_field(in_filter) == "filter.comparison.value.string_value"
