"""Value filters of PATCH paths (`emails[type eq "work"]`), evaluated in Python.

A PATCH selects values inside one user's document, already loaded for the
write, so this runs over a handful of list elements; filters over many users
go to SQL (`db/filters.py`). The filter is compiled once, so an unknown
sub-attribute is an error even when the list is empty.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from identity_api.v1 import identity_pb2
from identity_svc.domain.errors import InvalidFilter
from scim_schema.model import Attribute

Predicate = Callable[[Mapping[str, Any]], bool]
_Compare = Callable[[Any, Any], bool]

_Op = identity_pb2.CompareOperator


def compile_value_filter(expression: identity_pb2.Filter, attribute: Attribute) -> Predicate:
    """Compile a filter over the sub-attributes of `attribute` into a predicate.

    Raises InvalidFilter for unknown sub-attributes, nested value paths, or
    an operator that the sub-attribute's type does not support.
    """
    kind = expression.WhichOneof("expression")
    compiler = _COMPILERS.get(kind or "")
    if compiler is None:
        raise InvalidFilter(f"unsupported filter inside {attribute.name}[...]")
    return compiler(expression, attribute)


def equality_template(expression: identity_pb2.Filter) -> dict[str, Any]:
    """Return {sub-attribute: value} for `a eq x [and b eq y ...]`, else {}.

    Used to build the element a filter describes when it matches nothing: an
    add through it, or Entra's replace of `emails[type eq "work"].value` on a
    user without a work email.
    """
    kind = expression.WhichOneof("expression")
    if kind == "and":
        parts = [equality_template(operand) for operand in getattr(expression, "and").operands]
        if not parts or not all(parts):
            return {}
        return {k: v for part in parts for k, v in part.items()}
    if kind != "comparison" or expression.comparison.operator != _Op.EQ:
        return {}
    literal = _literal(expression.comparison.value)
    name = expression.comparison.path.attribute
    return {name: literal} if literal is not None and name else {}


def _compile_and(expression: identity_pb2.Filter, attribute: Attribute) -> Predicate:
    parts = _compile_operands(getattr(expression, "and").operands, attribute)
    return lambda element: all(part(element) for part in parts)


def _compile_or(expression: identity_pb2.Filter, attribute: Attribute) -> Predicate:
    parts = _compile_operands(getattr(expression, "or").operands, attribute)
    return lambda element: any(part(element) for part in parts)


def _compile_not(expression: identity_pb2.Filter, attribute: Attribute) -> Predicate:
    inner = compile_value_filter(getattr(expression, "not").operand, attribute)
    return lambda element: not inner(element)


def _compile_operands(operands: Any, attribute: Attribute) -> list[Predicate]:
    if not operands:
        raise InvalidFilter("and/or needs operands")
    return [compile_value_filter(operand, attribute) for operand in operands]


def _compile_comparison(expression: identity_pb2.Filter, attribute: Attribute) -> Predicate:
    comparison = expression.comparison
    sub = _sub_attribute(comparison.path, attribute)
    if comparison.operator == _Op.PR:
        return lambda element: _present(element.get(sub.name))
    compare = _comparator(comparison.operator, sub)
    literal = _fold(sub, _literal(comparison.value))
    return lambda element: compare(_fold(sub, element.get(sub.name)), literal)


def _sub_attribute(path: identity_pb2.AttributePath, attribute: Attribute) -> Attribute:
    sub = attribute.sub_attribute(path.attribute)
    if sub is None or path.sub_attribute or path.schema_uri:
        shown = ".".join(p for p in (path.attribute, path.sub_attribute) if p)
        raise InvalidFilter(f"{attribute.name}[...] has no sub-attribute {shown!r}")
    return sub


def _comparator(op: int, sub: Attribute) -> _Compare:
    compare = _COMPARATORS.get(op)
    if compare is None:
        raise InvalidFilter("unknown comparison operator")
    # RFC 7644 §3.4.2.2: ordering on booleans and binary is an invalid filter.
    if op in _ORDERING and sub.type in ("boolean", "binary"):
        raise InvalidFilter(f"{sub.name} cannot be ordered")
    return compare


def _literal(value: Any) -> Any:
    kind = value.WhichOneof("kind")
    if kind in (None, "null_value"):
        return None
    if kind in ("struct_value", "list_value"):
        raise InvalidFilter("a filter compares with a string, number, boolean or null")
    return getattr(value, kind)


def _fold(sub: Attribute, value: Any) -> Any:
    # caseExact=false strings compare ignoring case (RFC 7643 §2.2, §7).
    if isinstance(value, str) and not sub.case_exact:
        return value.casefold()
    return value


def _present(value: Any) -> bool:
    return value is not None and value not in ("", [], {})


def _same_kind(a: Any, b: Any) -> bool:
    # bool is an int in Python, but `true` never equals `1` in SCIM.
    return type(a) is type(b) or (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    )


def _equal(a: Any, b: Any) -> bool:
    return _same_kind(a, b) and bool(a == b)


def _strings(test: Callable[[str, str], bool]) -> _Compare:
    return lambda a, b: isinstance(a, str) and isinstance(b, str) and test(a, b)


def _ordered(test: Callable[[Any, Any], bool]) -> _Compare:
    # dateTimes compare as strings: the gateway sends them in one format.
    return lambda a, b: a is not None and _same_kind(a, b) and bool(test(a, b))


_ORDERING = frozenset({_Op.GT, _Op.GE, _Op.LT, _Op.LE})

_COMPARATORS: dict[int, _Compare] = {
    _Op.EQ: _equal,
    _Op.NE: lambda a, b: not _equal(a, b),
    _Op.CO: _strings(lambda a, b: b in a),
    _Op.SW: _strings(str.startswith),
    _Op.EW: _strings(str.endswith),
    _Op.GT: _ordered(operator.gt),
    _Op.GE: _ordered(operator.ge),
    _Op.LT: _ordered(operator.lt),
    _Op.LE: _ordered(operator.le),
}

_COMPILERS: dict[str, Callable[[identity_pb2.Filter, Attribute], Predicate]] = {
    "comparison": _compile_comparison,
    "and": _compile_and,
    "or": _compile_or,
    "not": _compile_not,
}
