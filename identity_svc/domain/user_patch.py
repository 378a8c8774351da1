"""RFC 7644 §3.5.2 PATCH of a user's SCIM document, as a pure function.

`apply_user_patch` works on a copy of the stored (normalized) document and
returns the normalized result; the caller compares it with the old document
and skips the write when they are equal, so every operation that leaves a
value as it was must leave the document exactly as it was.

Longer than most modules: RFC 7644 §3.5.2's add, replace and remove over
paths, value filters and sub-attributes are one set of rules that refer to
each other (an Entra quirk in one needs the others); split, none reads alone.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

from google.protobuf import struct_pb2

from identity_api.v1 import identity_pb2
from identity_svc.domain.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidValue,
    Mutability,
    NoTarget,
)
from identity_svc.domain.user_document import (
    normalize_attributes,
    normalize_user_document,
    normalize_value,
)
from identity_svc.domain.value_filter import Predicate, compile_value_filter, equality_template
from scim_schema.model import Attribute, Schema
from scim_schema.user import (
    CORE_USER,
    EXTENSION_SCHEMAS,
    find_schema,
    resolve_attribute,
    split_schema_uri,
)

_Op = identity_pb2.PatchOperation
Document = dict[str, Any]

# Keys of a no-path value object that Okta sends back from what it read
# (RFC 7644 §3.5.2: a client may resend what it GETs); they carry no change.
_IGNORED_KEYS = frozenset({"schemas", "meta"})

# The documented deviation of SPEC §3 (README, Conformance): Entra sets a
# user's first work email with a replace of `emails[type eq "work"].value` and
# expects it added, where RFC 7644 §3.5.2.3 answers noTarget. It is the one
# replace through an unmatched filter that creates a value:
# (attribute, sub-attribute, what the filter says, folded).
_ENTRA_REPLACE_ADDS = ("emails", "value", {"type": "work"})

# Sub-attributes that tell one value of a multi-valued attribute from another
# when it has a `value` (RFC 7644 §3.5.2.1: adding a value already there adds
# nothing); the others (primary, display) describe the value.
_IDENTITY_KEYS = ("value", "type")


@dataclasses.dataclass(frozen=True)
class _Target:
    """What a path selects: an attribute, maybe filtered, maybe one sub-attribute."""

    schema: Schema
    attribute: Attribute
    sub: Attribute | None = None
    predicate: Predicate | None = None
    template: tuple[tuple[str, Any], ...] = ()  # the element an eq filter describes
    text: str = ""


def apply_user_patch(
    document: dict[str, Any], user_id: str, operations: Sequence[identity_pb2.PatchOperation]
) -> dict[str, Any]:
    """Apply PATCH operations to a copy of `document`; return it normalized.

    Raises InvalidPath, NoTarget, Mutability or InvalidValue; on error nothing
    is applied (the input is never modified).
    """
    result = copy.deepcopy(document)
    for operation in operations:
        _apply_operation(result, user_id, operation)
    return normalize_user_document(result)


def _apply_operation(document: Document, user_id: str, operation: _Op) -> None:
    op = operation.op
    if op not in (_Op.ADD, _Op.REMOVE, _Op.REPLACE):
        raise InvalidValue("a PATCH op is add, remove or replace")
    has_value = operation.HasField("value") and operation.value.WhichOneof("kind") is not None
    if op != _Op.REMOVE and not has_value:
        raise InvalidValue("add and replace need a value (RFC 7644 §3.5.2)")
    value = _python(operation.value) if has_value else None
    if _has_path(operation.path):
        _apply_target(document, user_id, op, _resolve_path(operation.path), value)
    elif op == _Op.REMOVE:
        raise NoTarget("remove needs a path (RFC 7644 §3.5.2.2)")
    else:
        _apply_object(document, user_id, op, value, CORE_USER)


def _apply_object(document: Document, user_id: str, op: int, value: Any, schema: Schema) -> None:
    """Apply a no-path value: each key names a target, as if it were a path."""
    if not isinstance(value, dict):
        raise InvalidValue("add or replace without a path needs an object of attributes")
    for key, item in value.items():
        # Also inside an extension object: clients echo its `schemas` there.
        if _ignored(key, item):
            continue
        name = key if schema is CORE_USER else f"{schema.id}:{key}"
        target = _resolve(name, "", None)
        _apply_target(document, user_id, op, target, item)


def _ignored(key: str, value: Any) -> bool:
    # `groups` is read-only and lives in memberships: an empty list states
    # nothing (RFC 7643 §2.5); any other value is a mutability error later.
    name = key.lower()
    return name in _IGNORED_KEYS or (name == "groups" and value in (None, []))


def _apply_target(
    document: Document, user_id: str, op: int, target: _Target | Schema, value: Any
) -> None:
    if isinstance(target, Schema):  # the extension object itself
        _apply_extension(document, user_id, op, target, value)
        return
    mutability = (target.sub or target.attribute).mutability
    if mutability == "writeOnly":
        return  # password: accepted and discarded, never stored (SPEC §3)
    if mutability in ("readOnly", "immutable"):
        _check_unchanged(document, user_id, op, target, value)
        return
    if op == _Op.REMOVE:
        _remove(document, target, value)
    elif target.predicate is not None:
        _set_filtered(document, op, target, target.predicate, value)
    elif target.sub is not None:
        _set_sub(document, target, target.sub, value)
    elif target.attribute.multi_valued:
        _set_multi(document, op, target, value)
    else:
        _set_single(document, target, value)


def _apply_extension(document: Document, user_id: str, op: int, schema: Schema, value: Any) -> None:
    if op == _Op.REMOVE:
        document.pop(schema.id, None)
    else:
        _apply_object(document, user_id, op, value, schema)


def _check_unchanged(
    document: Document, user_id: str, op: int, target: _Target, value: Any
) -> None:
    """RFC 7644 §3.5.2: a read-only attribute may only be "set" to what it is."""
    if target.attribute.name == "id" and target.schema is CORE_USER:
        current: Any = user_id
    else:
        current = None if target.predicate else _get(document, target)
    if op == _Op.REMOVE or current is None or value != current:
        raise Mutability(f"{target.text} is read-only")


# ---------------------------------------------------------------- paths


def _has_path(path: identity_pb2.PatchPath) -> bool:
    return bool(
        path.schema_uri or path.attribute or path.sub_attribute or path.HasField("value_filter")
    )


def _resolve_path(path: identity_pb2.PatchPath) -> _Target | Schema:
    # Gateways may split "urn:...:2.0:User:manager" anywhere: join, then re-split
    # against the schemas we know.
    name = f"{path.schema_uri}:{path.attribute}" if path.schema_uri else path.attribute
    value_filter = path.value_filter if path.HasField("value_filter") else None
    return _resolve(name, path.sub_attribute, value_filter)


def _resolve(
    name: str, sub_name: str, value_filter: identity_pb2.Filter | None
) -> _Target | Schema:
    extension = _extension(name)
    if extension is not None and not sub_name and value_filter is None:
        return extension
    schema_uri, rest = split_schema_uri(name)
    if not sub_name and value_filter is None and "." in rest:
        rest, sub_name = rest.split(".", 1)  # Entra's "name.givenName" keys
    resolved = resolve_attribute(rest, schema_uri) if rest else None
    if resolved is None:
        raise InvalidPath(f"unknown attribute {name!r}")
    target = _Target(resolved.schema, resolved.attribute, text=resolved.attribute.name)
    if value_filter is not None:
        target = _with_filter(target, value_filter)
    return _with_sub(target, sub_name) if sub_name else target


def _extension(name: str) -> Schema | None:
    schema = find_schema(name)
    return schema if schema in EXTENSION_SCHEMAS else None


def _with_filter(target: _Target, value_filter: identity_pb2.Filter) -> _Target:
    attribute = target.attribute
    if not attribute.multi_valued:
        raise InvalidPath(f"{attribute.name} is single-valued: it takes no [filter]")
    try:
        predicate = compile_value_filter(value_filter, attribute)
    except InvalidFilter as exc:
        raise InvalidPath(str(exc)) from exc
    template = equality_template(value_filter)
    canonical = {_sub_name(attribute, k): v for k, v in template.items()}
    return dataclasses.replace(
        target,
        predicate=predicate,
        template=tuple(canonical.items()) if "type" in canonical else (),
        text=f"{attribute.name}[...]",
    )


def _with_sub(target: _Target, sub_name: str) -> _Target:
    attribute = target.attribute
    sub = attribute.sub_attribute(sub_name)
    if sub is None:
        raise InvalidPath(f"unknown attribute {attribute.name}.{sub_name}")
    return dataclasses.replace(target, sub=sub, text=f"{target.text}.{sub.name}")


def _sub_name(attribute: Attribute, name: str) -> str:
    sub = attribute.sub_attribute(name)
    return sub.name if sub is not None else name


# ---------------------------------------------------------------- values


def _python(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind in (None, "null_value"):
        return None
    if kind == "struct_value":
        return {k: _python(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_python(v) for v in value.list_value.values]
    return getattr(value, kind)


def _container(document: Document, schema: Schema) -> Document:
    if schema is CORE_USER:
        return document
    extension = document.get(schema.id)
    if not isinstance(extension, dict):
        extension = document[schema.id] = {}
    return extension


def _get(document: Document, target: _Target) -> Any:
    current = _container(document, target.schema).get(target.attribute.name)
    if target.sub is None or not isinstance(current, dict):
        return current if target.sub is None else None
    return current.get(target.sub.name)


def _put(container: Document, name: str, value: Any) -> None:
    if value is None:
        container.pop(name, None)
    else:
        container[name] = value


def _normalized(attribute: Attribute, value: Any, where: str) -> Any:
    # Entra sends the manager as its id alone, or as a one-element list.
    if attribute.type == "complex" and not attribute.multi_valued:
        if isinstance(value, str) and attribute.sub_attribute("value") is not None:
            value = {"value": value}
        elif isinstance(value, list) and len(value) == 1:
            value = value[0]
    elif attribute.multi_valued and isinstance(value, dict):
        value = [value]  # one value for a multi-valued attribute
    return normalize_value(attribute, value, where)


def _fold(attribute: Attribute, element: Any) -> Any:
    """Return a comparable form of a value, ignoring case where caseExact is false."""
    if not isinstance(element, dict):
        return element
    folded = {}
    for key, item in element.items():
        sub = attribute.sub_attribute(key)
        case_exact = sub is None or sub.case_exact
        folded[key] = item.casefold() if isinstance(item, str) and not case_exact else item
    return folded


def _identity(attribute: Attribute, element: Any) -> Any:
    """What makes two values of `attribute` the same value, ignoring case as caseExact says."""
    folded = _fold(attribute, element)
    if not isinstance(folded, dict):
        return folded
    if attribute.sub_attribute("value") is not None:
        return tuple(folded.get(key) for key in _IDENTITY_KEYS)
    return {key: item for key, item in folded.items() if key != "primary"}


def _merge(attribute: Attribute, held: Any, added: Any) -> None:
    """Give a value already held what the same value, added again, says of it."""
    if not isinstance(held, dict) or not isinstance(added, dict):
        return
    if attribute.sub_attribute("value") is not None:
        held.update({k: v for k, v in added.items() if k not in _IDENTITY_KEYS})
    elif "primary" in added:  # the rest is equal, or it would be another value
        held["primary"] = added["primary"]


def _demote_others(elements: list[Any], chosen: list[Any]) -> None:
    """RFC 7643 §2.4: once a value is made primary, the others are not."""
    if not any(isinstance(e, dict) and e.get("primary") is True for e in chosen):
        return
    for element in elements:
        if all(element is not c for c in chosen) and element.get("primary") is True:
            element["primary"] = False


# ---------------------------------------------------------------- add / replace


def _set_single(document: Document, target: _Target, value: Any) -> None:
    attribute = target.attribute
    container = _container(document, target.schema)
    new = _normalized(attribute, value, target.text)
    if attribute.type == "complex" and value is not None:
        # RFC 7644 §3.5.2.1/§3.5.2.3: sub-attributes not given are left unchanged.
        new = {**(container.get(attribute.name) or {}), **(new or {})} or None
    _put(container, attribute.name, new)


def _set_multi(document: Document, op: int, target: _Target, value: Any) -> None:
    attribute = target.attribute
    container = _container(document, target.schema)
    new = _normalized(attribute, value, target.text) or []
    if op == _Op.REPLACE:
        _put(container, attribute.name, new or None)  # §3.5.2.3: replaced whole
        return
    elements = container.get(attribute.name) or []
    chosen = []
    for item in new:  # §3.5.2.1: add the values not already there, merge the others
        identity = _identity(attribute, item)
        same = next((e for e in elements if _identity(attribute, e) == identity), None)
        if same is None:
            elements.append(item)
        else:
            _merge(attribute, same, item)
        chosen.append(item if same is None else same)
    _demote_others(elements, chosen)
    _put(container, attribute.name, elements or None)


def _set_sub(document: Document, target: _Target, sub: Attribute, value: Any) -> None:
    attribute = target.attribute
    container = _container(document, target.schema)
    new = normalize_value(sub, value, target.text)
    if not attribute.multi_valued:
        complex_value = dict(container.get(attribute.name) or {})
        _put(complex_value, sub.name, new)
        _put(container, attribute.name, complex_value or None)
        return
    elements = container.get(attribute.name) or []
    if not elements:
        raise NoTarget(f"{attribute.name} has no values to set {sub.name} on")
    for element in elements:
        _put(element, sub.name, new)


def _set_filtered(
    document: Document, op: int, target: _Target, predicate: Predicate, value: Any
) -> None:
    attribute = target.attribute
    container = _container(document, target.schema)
    elements = container.get(attribute.name) or []
    matched = [e for e in elements if predicate(e)]
    if not matched and value is None:
        return  # setting nothing where nothing matches changes nothing
    if not matched:
        matched = [_new_element(op, target)]
        elements.append(matched[0])
    for element in matched:
        _write_element(element, op, target, value)
    _demote_others(elements, matched)
    _put(container, attribute.name, elements)


def _new_element(op: int, target: _Target) -> dict[str, Any]:
    """The value an operation through a filter that matched nothing creates.

    An add creates the value its `eq` filter describes; a replace has nothing
    to replace (RFC 7644 §3.5.2.3: noTarget), but for Entra's work email.
    """
    creates = target.sub is not None and bool(target.template)
    if op == _Op.REPLACE:
        creates = creates and _is_entra_work_email(target)
    if not creates:
        raise NoTarget(f"no value of {target.text} matches the filter")
    return dict(target.template)


def _is_entra_work_email(target: _Target) -> bool:
    attribute, sub, described = _ENTRA_REPLACE_ADDS
    folded = {k: v.casefold() if isinstance(v, str) else v for k, v in target.template}
    return (
        target.attribute.name == attribute
        and target.sub is not None
        and target.sub.name == sub
        and folded == described
    )


def _write_element(element: dict[str, Any], op: int, target: _Target, value: Any) -> None:
    attribute = target.attribute
    if target.sub is not None:
        _put(element, target.sub.name, normalize_value(target.sub, value, target.text))
        return
    new = normalize_attributes(attribute.sub_attributes, value, target.text, target.text + ".")
    if op == _Op.REPLACE:  # §3.5.2.3: matching values are replaced
        element.clear()
    element.update(new or {})


# ---------------------------------------------------------------- remove


def _remove(document: Document, target: _Target, value: Any) -> None:
    attribute = target.attribute
    if attribute.required and target.sub is None and target.predicate is None:
        raise InvalidValue(f"{attribute.name} is required and cannot be removed")
    container = _container(document, target.schema)
    current = container.get(attribute.name)
    if not attribute.multi_valued:
        if target.sub is None or not isinstance(current, dict):
            container.pop(attribute.name, None)
        else:
            current.pop(target.sub.name, None)
        return
    select = _selector(target, value)
    remaining = []
    for element in current or []:
        if not select(element):
            remaining.append(element)
        elif target.sub is not None and (rest := _without(element, target.sub.name)):
            remaining.append(rest)
    _put(container, attribute.name, remaining or None)


def _selector(target: _Target, value: Any) -> Predicate:
    """Which values a remove touches: the filter's, the listed ones, or all."""
    attribute = target.attribute
    if target.predicate is not None:
        return target.predicate
    if value is None:
        return lambda element: True
    # Entra removes listed values: {"op":"remove","path":"emails","value":[{...}]}.
    listed = [_fold(attribute, item) for item in _normalized(attribute, value, target.text) or []]
    return lambda element: any(item.items() <= _fold(attribute, element).items() for item in listed)


def _without(element: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in element.items() if k != name}
