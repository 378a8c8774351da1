"""One comparison of a filter (`attribute op value`) as SQL, its value a `$n` parameter.

The operators each attribute kind takes, how strings compare (lower() on both
sides unless caseExact, which the lower() indexes serve), how absent values and
`null` behave, and how a multi-valued attribute matches when some value does
(RFC 7644 §3.4.2.2). db/filters.py walks the expression and calls these.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TypeAlias

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filter_attributes import Column, Kind, MultiValued
from identity_svc.domain.errors import InvalidFilter

Op: TypeAlias = pb.CompareOperator.ValueType


class SqlParams:
    """Collects query arguments and hands out $n placeholders."""

    def __init__(self, *initial: object) -> None:
        self._args: list[object] = list(initial)

    def add(self, value: object) -> str:
        """Append `value` and return its placeholder."""
        self._args.append(value)
        return f"${len(self._args)}"

    @property
    def args(self) -> list[object]:
        return list(self._args)


_ORDERING = {pb.GT: ">", pb.GE: ">=", pb.LT: "<", pb.LE: "<="}
_LIKE = {pb.CO: ("%", "%"), pb.SW: ("", "%"), pb.EW: ("%", "")}
_BINARY = {pb.EQ: "=", pb.NE: "IS DISTINCT FROM", **_ORDERING}
ALL_OPS = frozenset((*_BINARY, *_LIKE, pb.PR))
_OPS_BY_KIND: Mapping[Kind, frozenset[Op]] = {
    Kind.TEXT: ALL_OPS,
    Kind.EXACT: ALL_OPS,
    Kind.UUID: ALL_OPS,
    Kind.BOOLEAN: frozenset((pb.EQ, pb.NE, pb.PR)),
    Kind.DATETIME: frozenset((pb.EQ, pb.NE, pb.PR, *_ORDERING)),
    Kind.COMPLEX: frozenset((pb.PR,)),
}
# (column, parameter) shapes for string comparisons. Case-insensitive columns
# compare lower() with lower(), which is what the lower(...) indexes serve.
_TEXT_FORMS = {
    Kind.TEXT: ("lower({})", "lower({})"),
    Kind.EXACT: ("{}", "{}"),
    Kind.UUID: ("{}::text", "lower({})"),
}
MISSING = object()


def op_name(op: Op) -> str:
    return pb.CompareOperator.Name(op).lower()


def _present(col: Column) -> str:
    if col.kind in (Kind.TEXT, Kind.EXACT):
        return f"({col.sql} IS NOT NULL AND {col.sql} <> '')"
    if col.kind is Kind.COMPLEX:  # RFC 7644 §3.4.2.2: a complex value with some sub-value
        return f"(jsonb_typeof({col.sql}) = 'object' AND {col.sql} <> '{{}}'::jsonb)"
    return f"{col.sql} IS NOT NULL"


def _null(col: Column, op: Op) -> str:
    # RFC 7644 §3.4.2.2: `eq null` asks for an absent value.
    if op == pb.EQ:
        return f"{col.sql} IS NULL"
    if op == pb.NE:
        return f"{col.sql} IS NOT NULL"
    raise InvalidFilter(f"{col.name}: null can only be compared with eq or ne")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _string(col: Column, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidFilter(f"{col.name} is compared with a string")
    return value


def _boolean(col: Column, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidFilter(f"{col.name} is compared with true or false")
    return value


def _datetime(col: Column, value: object) -> datetime:
    # Python 3.11's fromisoformat reads ISO 8601, "Z" included.
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidFilter(f"{col.name} is compared with an ISO 8601 dateTime")
    # xsd:dateTime without an offset: read as UTC rather than the server's zone.
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:  # an offset can push 0001-01-01 or 9999-12-31 past Python's range
        return parsed.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidFilter(f"{col.name}: {value!r} is out of range") from exc


def _uuid(col: Column, value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(_string(col, value))
    except ValueError:
        return None


_CONVERT: Mapping[Kind, Callable[[Column, object], object]] = {
    Kind.TEXT: _string,
    Kind.EXACT: _string,
    Kind.BOOLEAN: _boolean,
    Kind.DATETIME: _datetime,
}


def _like(col: Column, op: Op, value: object, params: SqlParams) -> str:
    before, after = _LIKE[op]
    placeholder = params.add(before + _escape_like(_string(col, value)) + after)
    lhs, rhs = _TEXT_FORMS[col.kind]
    return f"{lhs.format(col.sql)} LIKE {rhs.format(placeholder)}"


def _uuid_compare(col: Column, op: Op, value: object, params: SqlParams) -> str:
    if op not in (pb.EQ, pb.NE):
        lhs, rhs = _TEXT_FORMS[Kind.UUID]
        placeholder = params.add(_string(col, value))
        return f"{lhs.format(col.sql)} {_ORDERING[op]} {rhs.format(placeholder)}"
    parsed = _uuid(col, value)
    if parsed is None:  # SPEC §3: a malformed id matches nothing, and is no error
        return "FALSE" if op == pb.EQ else "TRUE"
    return f"{col.sql} {_BINARY[op]} {params.add(parsed)}"


def compare(col: Column, op: Op, value: object, params: SqlParams) -> str:
    condition = _condition(col, op, value, params)
    # `ne` and absence must still match the values the guard leaves out.
    if col.guard and op not in (pb.NE, pb.PR) and value is not None:
        return f"({col.guard} AND {condition})"
    return condition


def _condition(col: Column, op: Op, value: object, params: SqlParams) -> str:
    if op not in _OPS_BY_KIND[col.kind]:
        raise InvalidFilter(f"{col.name}: '{op_name(op)}' does not apply to a {col.kind.value}")
    if op == pb.PR:
        return _present(col)
    if value is MISSING:
        raise InvalidFilter(f"{col.name}: '{op_name(op)}' needs a value")
    if value is None:
        return _null(col, op)
    if op in _LIKE:
        return _like(col, op, value, params)
    if col.kind is Kind.UUID:
        return _uuid_compare(col, op, value, params)
    placeholder = params.add(_CONVERT[col.kind](col, value))
    lhs, rhs = _TEXT_FORMS.get(col.kind, ("{}", "{}"))
    return f"{lhs.format(col.sql)} {_BINARY[op]} {rhs.format(placeholder)}"


def compare_multi(
    attr: MultiValued, sub: Column | None, op: Op, value: object, params: SqlParams
) -> str:
    # A multi-valued attribute matches when some value does (RFC 7644 §3.4.2.2);
    # `ne` and `eq null` ask that none does, so an absent attribute is "not equal".
    negate = False
    if value is None and op in (pb.EQ, pb.NE):
        negate, op = op == pb.EQ, pb.PR
    elif op == pb.NE:
        negate, op = True, pb.EQ
    if op == pb.PR and sub is None:
        condition = "TRUE"
    elif sub is None and "value" not in attr.subs:
        raise InvalidFilter(f"{attr.key} is compared through its sub-attributes")
    else:
        condition = compare(sub or attr.subs["value"], op, value, params)
    sql = attr.exists(condition)
    return f"NOT {sql}" if negate else sql
