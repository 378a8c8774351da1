"""A user's SCIM document: validated and canonical before it is stored.

The stored document holds every client-settable attribute (RFC 7643 §4.1, and
the enterprise extension under its URN, §3.3) with names in their canonical
case, so it round-trips and compares equal when nothing changed. It never holds
`id`, `meta`, `groups` (read-only, RFC 7644 §3.3) or `password` (never stored).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from identity_svc.domain.errors import InvalidValue
from identity_svc.domain.limits import indexable
from identity_svc.domain.models import MultiValue, UserFields
from scim_schema.model import Attribute, Schema
from scim_schema.urns import CORE_USER as CORE_USER_SCHEMA
from scim_schema.user import (
    COMMON_ATTRIBUTES,
    CORE_USER,
    DOCUMENT_INDEXED,
    EXTENSION_SCHEMAS,
    VALUE_ROW_ATTRIBUTES,
)

# RFC 7644 §3.3: read-only attributes in a request are ignored; writeOnly
# (password) is accepted and discarded, never stored.
_NOT_STORED = ("readOnly", "writeOnly")


def normalize_user_document(attributes: dict[str, Any]) -> dict[str, Any]:
    """Validate a user's SCIM attributes and return the document to store.

    Raises InvalidValue naming the attribute for unknown attributes or
    extensions, wrong types, a missing userName or two primary values.
    """
    if not isinstance(attributes, dict):
        raise InvalidValue("a User must be a JSON object")
    document: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in attributes.items():
        if key.lower() == "schemas":
            _check_schemas(value)
        elif key.lower().startswith("urn:"):
            _store(document, *_normalize_extension(key, value))
        elif (attribute := _core_attribute(key)) is None:
            unknown.append(key)
        elif attribute.mutability not in _NOT_STORED:
            _store(document, attribute.name, normalize_value(attribute, value, attribute.name))
    if unknown:
        raise InvalidValue(f"unknown User attributes: {', '.join(sorted(unknown))}")
    _check_user_name(document.get("userName"))
    document["schemas"] = [CORE_USER_SCHEMA] + [s.id for s in EXTENSION_SCHEMAS if s.id in document]
    return document


def normalize_value(attribute: Attribute, value: Any, where: str) -> Any:
    """Check `value` against `attribute`, returning it with canonical names.

    Returns None when the value is unassigned: null, an empty list or an
    empty object are all "no value" (RFC 7643 §2.5). `where` names the
    attribute in error messages.
    """
    if value is None:
        return None
    if not attribute.multi_valued:
        return _normalize_single(attribute, value, where)
    if not isinstance(value, list):
        raise InvalidValue(f"{where} must be a list")
    items = [_normalize_single(attribute, item, f"{where}[{i}]") for i, item in enumerate(value)]
    kept = [item for item in items if item is not None]
    if sum(1 for item in kept if _is_primary(item)) > 1:
        raise InvalidValue(f"{where}: at most one value may be primary (RFC 7643 §2.4)")
    return kept or None


def normalize_attributes(
    attributes: Iterable[Attribute], values: Any, where: str, prefix: str
) -> dict[str, Any] | None:
    """Normalize an object whose keys name `attributes` (a complex value, an extension).

    `where` names the object and `prefix` its members ("name." or the URN and
    ":") in error messages.
    """
    if not isinstance(values, dict):
        raise InvalidValue(f"{where} must be an object")
    by_name = {a.name.lower(): a for a in attributes}
    result: dict[str, Any] = {}
    for key, value in values.items():
        attribute = by_name.get(key.lower())
        if attribute is None:
            raise InvalidValue(f"unknown attribute {prefix}{key}")
        if attribute.mutability not in _NOT_STORED:
            name = prefix + attribute.name
            _store(result, attribute.name, normalize_value(attribute, value, name))
    return result or None


def derive_user_fields(document: dict[str, Any]) -> UserFields:
    """Derive the indexed columns from a normalized document."""
    name = document.get("name") or {}
    values = tuple(
        _multi_value(attribute, position, element)
        for attribute in VALUE_ROW_ATTRIBUTES
        for position, element in enumerate(document.get(attribute) or [])
    )
    for value in values:
        indexable(f"{value.attribute}.value", value.value)
        indexable(f"{value.attribute}.type", value.type)
    for attribute in DOCUMENT_INDEXED:
        indexable(attribute, _text(document.get(attribute)))
    return UserFields(
        user_name=indexable("userName", document["userName"]) or "",
        external_id=indexable("externalId", _text(document.get("externalId"))),
        active=document.get("active", True) is not False,
        display_name=indexable("displayName", _text(document.get("displayName"))),
        given_name=indexable("name.givenName", _text(name.get("givenName"))),
        family_name=indexable("name.familyName", _text(name.get("familyName"))),
        primary_email=_primary_email(document.get("emails") or []),
        values=values,
    )


def _core_attribute(name: str) -> Attribute | None:
    wanted = name.lower()
    candidates = (*CORE_USER.attributes, *COMMON_ATTRIBUTES)
    return next((a for a in candidates if a.name.lower() == wanted), None)


def _normalize_extension(key: str, value: Any) -> tuple[str, Any]:
    schema = _extension(key)
    if schema is None:
        raise InvalidValue(f"unknown schema extension {key}")
    return schema.id, normalize_attributes(schema.attributes, value, schema.id, schema.id + ":")


def _extension(uri: str) -> Schema | None:
    wanted = uri.lower()
    return next((s for s in EXTENSION_SCHEMAS if s.id.lower() == wanted), None)


def _store(target: dict[str, Any], name: str, value: Any) -> None:
    # Keys differing only in case name the same attribute (RFC 7644 §3.10).
    if name in target:
        raise InvalidValue(f"{name} is given more than once")
    if value is not None:
        target[name] = value


def _check_schemas(value: Any) -> None:
    # The list is rebuilt from the content, so it always says what is there.
    if not isinstance(value, list) or not all(isinstance(uri, str) for uri in value):
        raise InvalidValue("schemas must be a list of URIs")


def _check_user_name(value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue("userName is required and must be a non-empty string")


def _normalize_single(attribute: Attribute, value: Any, where: str) -> Any:
    if value is None:
        return None
    return _CHECKS[attribute.type](attribute, value, where)


def _complex(attribute: Attribute, value: Any, where: str) -> Any:
    return normalize_attributes(attribute.sub_attributes, value, where, where + ".")


def _of_type(accepts: Callable[[Any], bool], what: str) -> Callable[[Attribute, Any, str], Any]:
    def check(attribute: Attribute, value: Any, where: str) -> Any:
        if not accepts(value):
            raise InvalidValue(f"{where} must be {what}")
        return value

    return check


def _is_date_time(value: Any) -> bool:
    # RFC 7643 §2.3.5: xsd:dateTime; fromisoformat accepts "Z" since 3.11.
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_CHECKS: dict[str, Callable[[Attribute, Any, str], Any]] = {
    "string": _of_type(lambda v: isinstance(v, str), "a string"),
    "reference": _of_type(lambda v: isinstance(v, str), "a string (a URI)"),
    "binary": _of_type(lambda v: isinstance(v, str), "a base64 string"),
    "boolean": _of_type(lambda v: isinstance(v, bool), "a boolean"),
    "dateTime": _of_type(_is_date_time, "a dateTime string (RFC 7643 §2.3.5)"),
    "decimal": _of_type(_is_number, "a number"),
    "integer": _of_type(lambda v: _is_number(v) and isinstance(v, int), "an integer"),
    "complex": _complex,
}


def _is_primary(item: Any) -> bool:
    return isinstance(item, dict) and item.get("primary") is True


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _primary_email(emails: list[dict[str, Any]]) -> str | None:
    chosen = next((e for e in emails if _is_primary(e)), emails[0] if emails else None)
    return _text(chosen.get("value")) if chosen is not None else None


def _multi_value(attribute: str, position: int, element: dict[str, Any]) -> MultiValue:
    return MultiValue(
        attribute=attribute,
        position=position,
        value=_text(element.get("value")),
        type=_text(element.get("type")),
        display=_text(element.get("display")),
        primary=element.get("primary") is True,
    )
