"""RFC 7644 §3.5.2 PatchOp bodies -> typed PatchOperations; pure.

This is the syntax-and-quirks layer: it checks the PatchOp envelope, parses
paths, splits Entra's dotted no-path keys and turns Entra's string booleans
into booleans. What the operations *mean* is decided by the identity service
(identity_svc/domain/user_patch.py, group_patch.py), which gets clean ops.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Final, Literal

from google.protobuf import json_format, struct_pb2

from gateway import errors
from gateway.scim.filter import parse_patch_path
from identity_api.v1 import identity_pb2 as pb
from scim_schema.model import Attribute
from scim_schema.urns import PATCH_OP as PATCH_OP_SCHEMA
from scim_schema.user import find_schema, resolve_attribute

# Entra sends a few operations per request and Okta one or two; the cap only
# bounds the work one request can ask for.
MAX_OPERATIONS: Final = 1000

Resource = Literal["User", "Group"]

_OPS: Final = {
    "add": pb.PatchOperation.ADD,
    "remove": pb.PatchOperation.REMOVE,
    "replace": pb.PatchOperation.REPLACE,
}
_REMOVE: Final = pb.PatchOperation.REMOVE


class _Absent:
    """A member not sent at all, as opposed to one sent as null."""


_ABSENT: Final = _Absent()


def parse_patch_request(body: object, resource: Resource) -> list[pb.PatchOperation]:
    """Turn a PatchOp request body into typed operations, in request order.

    Raises InvalidSyntax, InvalidValue, InvalidPath or NoTarget (each
    naming the operation at fault); the operations are not applied here.
    """
    operations: list[pb.PatchOperation] = []
    for index, item in enumerate(_operation_items(body)):
        try:
            operations.extend(_parse_operation(item, resource))
        except errors.ScimError as exc:
            raise type(exc)(f"Operations[{index}]: {exc.detail}") from exc
    return operations


def coerce_user_booleans(document: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a User document with Entra's "True"/"False" as booleans.

    Only attributes the schema declares boolean are touched (`active`, the
    `primary` of multi-valued values); anything else is left for the identity
    service to validate.
    """
    return {key: _coerce_member(key, item) for key, item in document.items()}


# ---------------------------------------------------------------- envelope


def _operation_items(body: object) -> list[Any]:
    if not isinstance(body, dict):
        raise errors.InvalidSyntax("a PATCH body is a JSON object (RFC 7644 §3.5.2)")
    schemas = _member(body, "schemas")
    if not isinstance(schemas, list) or not any(
        isinstance(uri, str) and uri.lower() == PATCH_OP_SCHEMA.lower() for uri in schemas
    ):
        raise errors.InvalidSyntax(f'a PATCH body needs "schemas": ["{PATCH_OP_SCHEMA}"]')
    items = _member(body, "Operations")
    if not isinstance(items, list):
        raise errors.InvalidSyntax('a PATCH body needs "Operations", a list of operations')
    if not items:
        raise errors.InvalidValue('"Operations" is empty: a PATCH needs at least one operation')
    if len(items) > MAX_OPERATIONS:
        raise errors.InvalidValue(f"too many operations: at most {MAX_OPERATIONS} per PATCH")
    return items


def _member(obj: dict[Any, Any], name: str) -> Any:
    """A member of a JSON object by name, ignoring case (RFC 7644 §3.10)."""
    wanted = name.lower()
    found = [item for key, item in obj.items() if str(key).lower() == wanted]
    if len(found) > 1:
        raise errors.InvalidSyntax(f'"{name}" is given more than once')
    return found[0] if found else _ABSENT


# ---------------------------------------------------------------- operations


def _parse_operation(item: object, resource: Resource) -> list[pb.PatchOperation]:
    if not isinstance(item, dict):
        raise errors.InvalidSyntax("an operation is a JSON object with op, path and value")
    op = _op(_member(item, "op"))
    path_text, value = _member(item, "path"), _member(item, "value")
    if path_text is _ABSENT or path_text is None:
        return _no_path_operations(op, value, resource)
    path = _path(path_text)
    if op != _REMOVE and value is _ABSENT:
        raise errors.InvalidValue("add and replace need a value (RFC 7644 §3.5.2)")
    return [_operation(op, path, value, resource)]


def _op(raw: object) -> pb.PatchOperation.Op.ValueType:
    # Entra capitalizes op names ("Replace"); RFC 7644 §3.5.2 spells them lower-case.
    found = _OPS.get(raw.lower()) if isinstance(raw, str) else None
    if found is None:
        shown = "missing" if raw is _ABSENT else f"{raw!r:.60}"
        raise errors.InvalidSyntax(f'op must be "add", "remove" or "replace", not {shown}')
    return found


def _path(text: object) -> pb.PatchPath:
    if not isinstance(text, str):
        raise errors.InvalidPath("path must be a string")
    if not text.strip():
        raise errors.InvalidPath("path is empty; leave it out to patch the resource itself")
    return parse_patch_path(text)


def _no_path_operations(
    op: pb.PatchOperation.Op.ValueType, value: object, resource: Resource
) -> list[pb.PatchOperation]:
    if op == _REMOVE:
        raise errors.NoTarget("remove needs a path (RFC 7644 §3.5.2.2)")
    if not isinstance(value, dict):
        raise errors.InvalidValue(
            "add or replace without a path needs an object of attributes (RFC 7644 §3.5.2.1)"
        )
    return [
        _operation(op, None if key is None else parse_patch_path(key), chunk, resource)
        for key, chunk in _split_keys(value)
    ]


def _split_keys(value: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
    """Split Entra's `{"name.givenName": ...}` into one path per dotted key.

    Yields (path, value) for keys that are paths and (None, object) for each
    run of consecutive plain attribute names, keeping the request's order.
    """
    plain: dict[str, Any] = {}
    for key, item in value.items():
        if not _is_path_key(key, item):
            plain[key] = item
            continue
        if plain:
            yield None, plain
            plain = {}
        yield key, item
    if plain or not value:
        yield None, plain


def _is_path_key(key: str, item: Any) -> bool:
    if "[" in key:
        return True
    if key.lower().startswith("urn:"):
        # "urn:…:enterprise:2.0:User": {...} is the extension object itself, kept
        # whole; a URN-qualified attribute with a plain value is a path. (The
        # URN itself contains a dot, "2.0", so dots say nothing here.)
        return not isinstance(item, dict)
    return "." in key


def _operation(
    op: pb.PatchOperation.Op.ValueType,
    path: pb.PatchPath | None,
    value: Any,
    resource: Resource,
) -> pb.PatchOperation:
    operation = pb.PatchOperation(op=op, path=path)
    if value is not _ABSENT:
        if resource == "User":
            value = _coerce_at(path, value)
        operation.value.CopyFrom(_protobuf_value(value))
    return operation


def _protobuf_value(value: Any) -> struct_pb2.Value:
    try:
        result = json_format.ParseDict(value, struct_pb2.Value())
        # Python's JSON decoder accepts NaN and Infinity, which ParseDict keeps
        # but no JSON encoder (MessageToDict included) can write back.
        json.dumps(value, allow_nan=False)
    except (json_format.Error, ValueError, TypeError, OverflowError) as exc:
        # Also: integers beyond a double, nesting deeper than protobuf allows.
        raise errors.InvalidValue(f"value cannot be represented in JSON: {exc}") from exc
    return result


# ---------------------------------------------------------------- string booleans


def _coerce_at(path: pb.PatchPath | None, value: Any) -> Any:
    """Coerce a PATCH value for what its path names (Entra: "value": "False")."""
    if path is None:
        return coerce_user_booleans(value) if isinstance(value, dict) else value
    # Paths may split "urn:…:2.0:User:manager" anywhere: join, let the schema re-split.
    name = f"{path.schema_uri}:{path.attribute}" if path.schema_uri else path.attribute
    if not path.sub_attribute:
        return _coerce_member(name, value)
    resolved = resolve_attribute(name)
    if resolved is None:
        return value
    return _coerce(resolved.attribute.sub_attribute(path.sub_attribute), value)


def _coerce_member(name: str, value: Any) -> Any:
    extension = find_schema(name)
    if extension is not None and isinstance(value, dict):
        return {key: _coerce(extension.attribute(key), item) for key, item in value.items()}
    resolved = resolve_attribute(name)
    return _coerce(resolved.attribute if resolved is not None else None, value)


def _coerce(attribute: Attribute | None, value: Any) -> Any:
    if attribute is None:
        return value
    if attribute.multi_valued and isinstance(value, list):
        return [_coerce_one(attribute, item) for item in value]
    return _coerce_one(attribute, value)


def _coerce_one(attribute: Attribute, value: Any) -> Any:
    # Recursion follows the schema (complex -> simple sub-attributes), not the
    # input, so it is at most two levels deep whatever the client sends.
    if attribute.type == "boolean" and isinstance(value, str):
        lowered = value.lower()
        return lowered == "true" if lowered in ("true", "false") else value
    if attribute.type == "complex" and isinstance(value, dict):
        return {key: _coerce(attribute.sub_attribute(key), item) for key, item in value.items()}
    return value
