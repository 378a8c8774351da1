"""Small builders shared by the identity service tests."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from identity_api.v1 import identity_pb2 as pb

OPERATOR = pb.RequestContext(actor=pb.Actor(operator=True), request_id="test-request")
GATEWAY = pb.RequestContext(actor=pb.Actor(scim_key_id="test-key"), request_id="test-request")


def new_org_id() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


def struct(document: dict[str, Any]) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    result.update(document)
    return result


def value(python: Any) -> struct_pb2.Value:
    result = struct_pb2.Value()
    json_format.ParseDict(python, result)
    return result


def user_doc(user_name: str, **extra: Any) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
        **extra,
    }


def path(attribute: str, sub: str = "", value_filter: pb.Filter | None = None) -> pb.PatchPath:
    result = pb.PatchPath(attribute=attribute, sub_attribute=sub)
    if value_filter is not None:
        result.value_filter.CopyFrom(value_filter)
    return result


def eq(attribute: str, literal: Any, sub: str = "") -> pb.Filter:
    return pb.Filter(
        comparison=pb.Comparison(
            path=pb.AttributePath(attribute=attribute, sub_attribute=sub),
            operator=pb.EQ,
            value=value(literal),
        )
    )


def all_of(*operands: pb.Filter) -> pb.Filter:
    result = pb.Filter()
    getattr(result, "and").operands.extend(operands)  # `and` is a Python keyword
    return result


def error_reason(exc: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason carried by a failed call."""
    status = rpc_status.from_call(exc)
    assert status is not None, "error carries no rich status"
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return str(info.reason)
    raise AssertionError("error carries no ErrorInfo")
