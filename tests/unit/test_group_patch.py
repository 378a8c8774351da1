"""Planning Group PATCH operations (pure): what Okta and Entra send."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2

from identity_api.v1 import identity_pb2 as pb
from identity_svc.domain.errors import InvalidPath, InvalidValue, Mutability, NoTarget
from identity_svc.domain.group_patch import (
    AddMembers,
    RemoveMembers,
    RemoveMembersWhere,
    ReplaceMembers,
    SetDisplayName,
    SetExternalId,
    plan_group_patch,
)

GROUP_ID = "8c1f5f4e-1111-4222-8333-944445555666"
ADD, REMOVE, REPLACE = pb.PatchOperation.ADD, pb.PatchOperation.REMOVE, pb.PatchOperation.REPLACE


def op(
    kind: Any, path: str = "", value: Any = None, value_filter: pb.Filter | None = None
) -> pb.PatchOperation:
    operation = pb.PatchOperation(op=kind)
    if path:
        attribute, _, sub = path.partition(".")
        operation.path.attribute = attribute
        operation.path.sub_attribute = sub
    if value_filter is not None:
        operation.path.value_filter.CopyFrom(value_filter)
    if value is not None:
        json_format.ParseDict(value, operation.value)
    return operation


def where(attribute: str, operator: Any, literal: str) -> pb.Filter:
    return pb.Filter(
        comparison=pb.Comparison(
            path=pb.AttributePath(attribute=attribute),
            operator=operator,
            value=struct_pb2.Value(string_value=literal),
        )
    )


def test_okta_rename_sends_id_and_display_name():
    steps = plan_group_patch(GROUP_ID, [op(REPLACE, value={"id": GROUP_ID, "displayName": "New"})])
    assert steps == [SetDisplayName("New")]


def test_okta_member_add_and_remove():
    steps = plan_group_patch(
        GROUP_ID,
        [
            op(ADD, "members", [{"value": "u1", "display": "a@x"}, {"value": "u2"}]),
            op(REMOVE, "members", value_filter=where("value", pb.EQ, "u3")),
        ],
    )
    assert steps == [AddMembers(("u1", "u2")), RemoveMembers(("u3",))]


def test_entra_remove_by_value_list_and_capitalized_members_path():
    steps = plan_group_patch(GROUP_ID, [op(REMOVE, "Members", [{"value": "u1"}])])
    assert steps == [RemoveMembers(("u1",))]


def test_remove_members_without_value_removes_all():
    assert plan_group_patch(GROUP_ID, [op(REMOVE, "members")]) == [ReplaceMembers(())]


def test_replace_members_and_external_id():
    steps = plan_group_patch(
        GROUP_ID, [op(REPLACE, "members", [{"value": "u1"}]), op(REMOVE, "externalId")]
    )
    assert steps == [ReplaceMembers(("u1",)), SetExternalId(None)]


def test_a_member_filter_other_than_value_eq_goes_to_sql():
    expr = where("display", pb.CO, "ada")
    assert plan_group_patch(GROUP_ID, [op(REMOVE, "members", value_filter=expr)]) == [
        RemoveMembersWhere(expr)
    ]


def test_full_urn_keys_in_a_no_path_value():
    key = "urn:ietf:params:scim:schemas:core:2.0:Group:displayName"
    assert plan_group_patch(GROUP_ID, [op(REPLACE, value={key: "X"})]) == [SetDisplayName("X")]


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        (op(REMOVE), NoTarget),
        (op(REPLACE, value={"id": "other"}), Mutability),
        (op(REMOVE, "id"), Mutability),
        (op(REPLACE, "nope", "x"), InvalidPath),
        (op(REPLACE, value={"nope": "x"}), InvalidPath),
        (op(REPLACE, "displayName.sub", "x"), InvalidPath),
        (op(ADD, "members", value_filter=where("value", pb.EQ, "u1")), InvalidPath),
        (op(REMOVE, "displayName"), InvalidValue),
        (op(REPLACE, "displayName", ""), InvalidValue),
        (op(REPLACE, "displayName", 7), InvalidValue),
        (op(ADD, "members", [{"display": "no value"}]), InvalidValue),
        (op(ADD, "members", [{"value": "g1", "type": "Group"}]), InvalidValue),
        (op(REPLACE, value="not an object"), InvalidValue),
        (pb.PatchOperation(), InvalidValue),
    ],
)
def test_bad_operations_are_refused(operation, error):
    with pytest.raises(error):
        plan_group_patch(GROUP_ID, [operation])


def test_an_empty_patch_is_refused():
    with pytest.raises(InvalidValue):
        plan_group_patch(GROUP_ID, [])


def test_another_schema_in_a_path_is_invalid():
    operation = op(REPLACE, "displayName", "x")
    operation.path.schema_uri = "urn:ietf:params:scim:schemas:core:2.0:User"
    with pytest.raises(InvalidPath):
        plan_group_patch(GROUP_ID, [operation])
