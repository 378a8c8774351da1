"""Typed SCIM filters (RFC 7644 §3.4.2.2) -> parameterized SQL, through an allowlist.

With ORDER BY, this is the one place where SQL is assembled at run time (STYLE §4):
every fragment comes from the tables below and every client value becomes a `$n`
parameter, so no text from the AST ever reaches SQL. Names (attributes,
sub-attributes, schema URIs) are matched case-insensitively (RFC 7644 §3.10).

What each attribute is in SQL comes from db/filter_attributes.py, which derives
it from scim_schema's declarations.

Expressions are built over the alias `u` (users) or `g` (groups); the caller ANDs
the org scope outside them, and since nothing here can close a parenthesis it did
not open, a filter can never widen that scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filter_attributes import (
    ALIAS,
    MEMBERS,
    SCHEMAS,
    SORT_KEYS,
    Attribute,
    Column,
    Kind,
    MultiValued,
    Resource,
)
from identity_svc.domain.errors import InvalidFilter, InvalidValue

# A hostile AST must not cost more than a reasonable filter does.
MAX_DEPTH = 50
MAX_LEAVES = 200

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


# ---------------------------------------------------------------- comparisons

_ORDERING = {pb.GT: ">", pb.GE: ">=", pb.LT: "<", pb.LE: "<="}
_LIKE = {pb.CO: ("%", "%"), pb.SW: ("", "%"), pb.EW: ("%", "")}
_BINARY = {pb.EQ: "=", pb.NE: "IS DISTINCT FROM", **_ORDERING}
_ALL_OPS = frozenset((*_BINARY, *_LIKE, pb.PR))
_OPS_BY_KIND: Mapping[Kind, frozenset[Op]] = {
    Kind.TEXT: _ALL_OPS,
    Kind.EXACT: _ALL_OPS,
    Kind.UUID: _ALL_OPS,
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
_MISSING = object()


def _op_name(op: Op) -> str:
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


def _compare(col: Column, op: Op, value: object, params: SqlParams) -> str:
    if op not in _OPS_BY_KIND[col.kind]:
        raise InvalidFilter(f"{col.name}: '{_op_name(op)}' does not apply to a {col.kind.value}")
    if op == pb.PR:
        return _present(col)
    if value is _MISSING:
        raise InvalidFilter(f"{col.name}: '{_op_name(op)}' needs a value")
    if value is None:
        return _null(col, op)
    if op in _LIKE:
        return _like(col, op, value, params)
    if col.kind is Kind.UUID:
        return _uuid_compare(col, op, value, params)
    placeholder = params.add(_CONVERT[col.kind](col, value))
    lhs, rhs = _TEXT_FORMS.get(col.kind, ("{}", "{}"))
    return f"{lhs.format(col.sql)} {_BINARY[op]} {rhs.format(placeholder)}"


def _compare_multi(
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
        condition = _compare(sub or attr.subs["value"], op, value, params)
    sql = attr.exists(condition)
    return f"NOT {sql}" if negate else sql


# ---------------------------------------------------------------- paths


def _shown(path: pb.AttributePath) -> str:
    """Spell a path as the client did, for messages only (never for SQL)."""
    text = ":".join(filter(None, (path.schema_uri, path.attribute)))
    text = ".".join(filter(None, (text, path.sub_attribute)))
    return repr(text[:120])


@dataclass(frozen=True)
class _Scope:
    """Where paths are resolved: a resource's schemas, or one multi-valued row."""

    schemas: Mapping[str, Mapping[str, Attribute]]
    row: MultiValued | None = None

    def tables(self, path: pb.AttributePath) -> Sequence[Mapping[str, Attribute]]:
        uri = path.schema_uri.lower()
        if not uri:
            return list(self.schemas.values())
        if uri not in self.schemas:
            raise InvalidFilter(f"unknown schema {path.schema_uri[:120]!r}")
        return [self.schemas[uri]]

    def resolve(self, path: pb.AttributePath) -> tuple[Attribute, Column | None]:
        """Find the attribute a path names, and its sub-attribute's column if any."""
        attr, sub = path.attribute.lower(), path.sub_attribute.lower()
        for table in self.tables(path):
            found = table.get(f"{attr}.{sub}" if sub else attr)
            if isinstance(found, Column):
                return found, None
            parent = table.get(attr)
            if isinstance(parent, MultiValued) and (not sub or sub in parent.subs):
                return parent, parent.subs.get(sub)
        raise InvalidFilter(f"unknown attribute {_shown(path)}")

    def resolve_in_row(self, row: MultiValued, path: pb.AttributePath) -> Column:
        """Find a sub-attribute of the value row: `type`, or `emails.type` spelled out."""
        self.tables(path)  # validates the schema URI, if any
        attr, sub = path.attribute.lower(), path.sub_attribute.lower()
        name = sub if attr == row.key else None if sub else attr
        column = row.subs.get(name) if name else None
        if column is None:
            raise InvalidFilter(f"unknown attribute {_shown(path)} in a {row.key} filter")
        return column


# ---------------------------------------------------------------- expressions


def _comparison_sql(expr: pb.Filter, scope: _Scope, params: SqlParams) -> str:
    comparison = expr.comparison
    op = comparison.operator
    if op not in _ALL_OPS:
        raise InvalidFilter("a comparison needs an operator")
    value = _literal(comparison)
    if value is _MISSING and op != pb.PR:
        raise InvalidFilter(f"'{_op_name(op)}' needs a value")
    if scope.row is not None:
        return _compare(scope.resolve_in_row(scope.row, comparison.path), op, value, params)
    attr, sub = scope.resolve(comparison.path)
    if isinstance(attr, MultiValued):
        return _compare_multi(attr, sub, op, value, params)
    return _compare(attr, op, value, params)


def _literal(comparison: pb.Comparison) -> object:
    """Comparison.value as None, bool, float or str; _MISSING when unset."""
    kind = comparison.value.WhichOneof("kind") if comparison.HasField("value") else None
    if kind is None:
        return _MISSING
    if kind in ("struct_value", "list_value"):
        raise InvalidFilter("a filter compares with null, a boolean, a number or a string")
    if kind == "null_value":
        return None
    return getattr(comparison.value, kind)


def _junction_sql(
    operands: Sequence[pb.Filter], glue: str, scope: _Scope, params: SqlParams
) -> str:
    if len(operands) < 2:
        raise InvalidFilter(f"'{glue.strip().lower()}' needs at least two operands")
    return "(" + glue.join(_compile(operand, scope, params) for operand in operands) + ")"


def _and_sql(expr: pb.Filter, scope: _Scope, params: SqlParams) -> str:
    return _junction_sql(getattr(expr, "and").operands, " AND ", scope, params)


def _or_sql(expr: pb.Filter, scope: _Scope, params: SqlParams) -> str:
    return _junction_sql(getattr(expr, "or").operands, " OR ", scope, params)


def _not_sql(expr: pb.Filter, scope: _Scope, params: SqlParams) -> str:
    negation: pb.Negation = getattr(expr, "not")
    if not negation.HasField("operand"):
        raise InvalidFilter("'not' needs an operand")
    # An absent attribute makes a comparison NULL, and NOT NULL would drop the row:
    # under `not`, "does not match" must match.
    return f"NOT COALESCE({_compile(negation.operand, scope, params)}, false)"


def _value_path_sql(expr: pb.Filter, scope: _Scope, params: SqlParams) -> str:
    value_path = expr.value_path
    if scope.row is not None:
        raise InvalidFilter("value paths cannot be nested")
    attr, sub = scope.resolve(value_path.path)
    if not isinstance(attr, MultiValued) or sub is not None:
        raise InvalidFilter(f"{_shown(value_path.path)} is not a multi-valued attribute")
    if not value_path.HasField("filter"):
        raise InvalidFilter(f"{_shown(value_path.path)}[...] needs a filter")
    # One EXISTS: every condition in the brackets holds for the same value.
    row_scope = _Scope(scope.schemas, row=attr)
    return attr.exists(_compile(value_path.filter, row_scope, params))


_COMPILERS: Mapping[str, Callable[[pb.Filter, _Scope, SqlParams], str]] = {
    "comparison": _comparison_sql,
    "and": _and_sql,
    "or": _or_sql,
    "not": _not_sql,
    "value_path": _value_path_sql,
}


def _compile(expr: pb.Filter, scope: _Scope, params: SqlParams) -> str:
    kind = expr.WhichOneof("expression")
    if kind is None:
        raise InvalidFilter("empty filter expression")
    return _COMPILERS[kind](expr, scope, params)


def _children(expr: pb.Filter) -> Sequence[pb.Filter]:
    kind = expr.WhichOneof("expression")
    if kind in ("and", "or"):
        return list(getattr(expr, kind).operands)
    if kind == "not":
        negation: pb.Negation = getattr(expr, "not")
        return [negation.operand] if negation.HasField("operand") else []
    if kind == "value_path":
        return [expr.value_path.filter] if expr.value_path.HasField("filter") else []
    return []


def _check_size(expr: pb.Filter) -> None:
    """Bound the work a filter can ask for, before compiling it recursively."""
    leaves, stack = 0, [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidFilter(f"filter nests deeper than {MAX_DEPTH} levels")
        children = _children(node)
        leaves += not children
        if leaves > MAX_LEAVES or len(children) > MAX_LEAVES:
            raise InvalidFilter(f"filter has more than {MAX_LEAVES} comparisons")
        stack.extend((child, depth + 1) for child in children)


# ---------------------------------------------------------------- public API


def compile_filter(resource: Resource, expr: pb.Filter, params: SqlParams) -> str:
    """Compile `expr` to a boolean SQL expression over `u` (users) or `g` (groups).

    Client values are added to `params`; raises InvalidFilter for unknown
    attributes, wrong operators or value types, and oversized filters.
    """
    _check_size(expr)
    return _compile(expr, _Scope(SCHEMAS[resource]), params)


def compile_member_filter(expr: pb.Filter, params: SqlParams) -> str:
    """Compile a member filter to a boolean SQL expression over a group_members row `gm`.

    For PATCH paths like `members[value eq "id"]`: paths name `value`, `display`
    or `type`. Raises InvalidFilter like compile_filter.
    """
    _check_size(expr)
    return _compile(expr, _Scope(SCHEMAS[Resource.GROUPS], row=MEMBERS), params)


def order_by(resource: Resource, sort: pb.SortOrder | None) -> str:
    """Return the ORDER BY list for `sort`; created, id always break ties (stable pages).

    Raises InvalidValue for an attribute that cannot be sorted on.
    """
    alias = ALIAS[resource]
    tie_breakers = f"{alias}.created, {alias}.id"
    if sort is None or not sort.by.attribute:
        return tie_breakers
    path = sort.by
    core = next(iter(SCHEMAS[resource]))
    attr, sub = path.attribute.lower(), path.sub_attribute.lower()
    key = SORT_KEYS[resource].get(f"{attr}.{sub}" if sub else attr)
    if key is None or path.schema_uri.lower() not in ("", core):
        raise InvalidValue(f"cannot sort by {_shown(path)}")
    return f"{key} DESC, {tie_breakers}" if sort.descending else f"{key}, {tie_breakers}"
