"""RFC 7644 §3.5.2 PATCH operations on a Group, planned as typed steps.

Planning is pure; the service executes the steps in order as row inserts and
deletes, so a membership change costs O(members named), whatever the group's
size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2

from identity_api.v1 import identity_pb2 as pb
from identity_svc.domain.errors import InvalidPath, InvalidValue, Mutability, NoTarget
from identity_svc.domain.limits import indexable
from scim_schema.urns import GROUP as GROUP_SCHEMA

_ADD, _REMOVE, _REPLACE = pb.PatchOperation.ADD, pb.PatchOperation.REMOVE, pb.PatchOperation.REPLACE

# Attributes a client may send back unchanged (Okta PUTs/PATCHes what it GETs).
_IGNORED = {"schemas", "meta"}


@dataclass(frozen=True)
class SetDisplayName:
    value: str


@dataclass(frozen=True)
class SetExternalId:
    value: str | None


@dataclass(frozen=True)
class AddMembers:
    user_ids: tuple[str, ...]


@dataclass(frozen=True)
class RemoveMembers:
    user_ids: tuple[str, ...]


@dataclass(frozen=True)
class RemoveMembersWhere:
    filter: pb.Filter


@dataclass(frozen=True)
class ReplaceMembers:
    user_ids: tuple[str, ...]


Step = (
    SetDisplayName
    | SetExternalId
    | AddMembers
    | RemoveMembers
    | RemoveMembersWhere
    | ReplaceMembers
)


def to_python(value: struct_pb2.Value) -> Any:
    """A google.protobuf.Value as the JSON value it stands for (None if unset)."""
    return json_format.MessageToDict(value) if value.WhichOneof("kind") else None


def member_ids(value: Any) -> tuple[str, ...]:
    """Ids from SCIM member values: a list of {"value": id, ...} (or one such object)."""
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise InvalidValue('members must be objects with a string "value" (a user id)')
        if str(item.get("type", "User")).lower() != "user":
            raise InvalidValue("only users can be members; nested groups are not supported")
        ids.append(item["value"])
    return tuple(ids)


def _string(name: str, value: Any, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidValue(f"{name} must be a non-empty string")
    return indexable(name, value)


def _immutable_id(group_id: str, value: Any) -> list[Step]:
    if value != group_id:
        raise Mutability("id is read-only")
    return []


def _attribute_steps(op: int, name: str, value: Any, group_id: str) -> list[Step]:
    """Steps for one attribute set by add/replace (with a path or without)."""
    key = name.lower()
    if key == "displayname":
        return [SetDisplayName(_string("displayName", value, required=True) or "")]
    if key == "externalid":
        return [SetExternalId(_string("externalId", value, required=False))]
    if key == "members":
        ids = member_ids(value) if value is not None else ()
        return [AddMembers(ids) if op == _ADD else ReplaceMembers(ids)]
    if key == "id":
        return _immutable_id(group_id, value)
    if key in _IGNORED:
        return []
    raise InvalidPath(f"unknown Group attribute {name!r}")


def _no_path_steps(op: int, value: Any, group_id: str) -> list[Step]:
    if op == _REMOVE:
        raise NoTarget("remove needs a path")
    if not isinstance(value, dict):
        raise InvalidValue("an operation without a path needs an object value")
    steps: list[Step] = []
    for name, item in value.items():
        short = name.removeprefix(GROUP_SCHEMA + ":") if ":" in name else name
        steps.extend(_attribute_steps(op, short, item, group_id))
    return steps


def _single_member_id(expr: pb.Filter) -> str | None:
    """The id of a `value eq "id"` filter: the common case needs no SQL filter."""
    comparison = expr.comparison
    if (
        expr.WhichOneof("expression") == "comparison"
        and comparison.path.attribute.lower() == "value"
        and not comparison.path.sub_attribute
        and comparison.operator == pb.EQ
        and comparison.value.WhichOneof("kind") == "string_value"
    ):
        return comparison.value.string_value
    return None


def _members_filter_steps(op: int, path: pb.PatchPath) -> list[Step]:
    if op != _REMOVE or path.sub_attribute:
        raise InvalidPath("a filter on members is supported only to remove members")
    single = _single_member_id(path.value_filter)
    return (
        [RemoveMembers((single,))]
        if single is not None
        else [RemoveMembersWhere(path.value_filter)]
    )


def _remove_steps(name: str, value: Any, group_id: str) -> list[Step]:
    key = name.lower()
    if key == "members":
        # Entra removes chosen members with a value list; no value removes all.
        # Only an absent value means "all"; an empty list names nobody.
        return [ReplaceMembers(())] if value is None else [RemoveMembers(member_ids(value))]
    if key == "externalid":
        return [SetExternalId(None)]
    if key == "displayname":
        raise InvalidValue("displayName is required and cannot be removed")
    if key == "id":
        raise Mutability("id is read-only")
    raise InvalidPath(f"unknown Group attribute {name!r}")


def _path_steps(op: int, path: pb.PatchPath, value: Any, group_id: str) -> list[Step]:
    if path.schema_uri and path.schema_uri.lower() != GROUP_SCHEMA.lower():
        raise InvalidPath(f"unknown schema {path.schema_uri!r} for a Group")
    if path.HasField("value_filter"):
        if path.attribute.lower() != "members":
            raise InvalidPath(f"{path.attribute} is not multi-valued")
        return _members_filter_steps(op, path)
    if path.sub_attribute:
        raise InvalidPath(f"{path.attribute}.{path.sub_attribute} cannot be patched")
    if op == _REMOVE:
        return _remove_steps(path.attribute, value, group_id)
    return _attribute_steps(op, path.attribute, value, group_id)


def plan_group_patch(group_id: str, operations: Sequence[pb.PatchOperation]) -> list[Step]:
    """The steps that `operations` ask for, in order; raises on any bad one."""
    if not operations:
        raise InvalidValue("a PATCH needs at least one operation")
    steps: list[Step] = []
    for operation in operations:
        if operation.op not in (_ADD, _REMOVE, _REPLACE):
            raise InvalidValue("op must be add, remove or replace")
        value = to_python(operation.value)
        if operation.HasField("path") and operation.path.attribute:
            steps.extend(_path_steps(operation.op, operation.path, value, group_id))
        else:
            steps.extend(_no_path_steps(operation.op, value, group_id))
    return steps
