"""Typed SCIM filters (RFC 7644 §3.4.2.2) -> parameterized SQL, through an allowlist.

With ORDER BY, this is the one place where SQL is assembled at run time (STYLE §4):
every fragment comes from db/filter_attributes.py and db/filter_comparisons.py and
every client value becomes a `$n` parameter, so no text from the AST ever reaches SQL.
Names (attributes, sub-attributes, schema URIs) are matched case-insensitively
(RFC 7644 §3.10).

What each attribute is in SQL comes from db/filter_attributes.py, which derives
it from scim_schema's declarations; one comparison's SQL from db/filter_comparisons.py.

Expressions are built over the alias `u` (users) or `g` (groups); the caller ANDs
the org scope outside them, and since nothing here can close a parenthesis it did
not open, a filter can never widen that scope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filter_attributes import (
    ALIAS,
    MEMBERS,
    SCHEMAS,
    SORT_KEYS,
    Attribute,
    Column,
    MultiValued,
    Resource,
)
from identity_svc.db.filter_comparisons import (
    ALL_OPS,
    MISSING,
    SqlParams,
    compare,
    compare_multi,
    op_name,
)
from identity_svc.domain.errors import InvalidFilter, InvalidValue

__all__ = ["SqlParams", "compile_filter", "compile_member_filter", "order_by"]

# A hostile AST must not cost more than a reasonable filter does.
MAX_DEPTH = 50
MAX_LEAVES = 200


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
    if op not in ALL_OPS:
        raise InvalidFilter("a comparison needs an operator")
    value = _literal(comparison)
    if value is MISSING and op != pb.PR:
        raise InvalidFilter(f"'{op_name(op)}' needs a value")
    if scope.row is not None:
        return compare(scope.resolve_in_row(scope.row, comparison.path), op, value, params)
    attr, sub = scope.resolve(comparison.path)
    if isinstance(attr, MultiValued):
        return compare_multi(attr, sub, op, value, params)
    return compare(attr, op, value, params)


def _literal(comparison: pb.Comparison) -> object:
    """Comparison.value as None, bool, float or str; MISSING when unset."""
    kind = comparison.value.WhichOneof("kind") if comparison.HasField("value") else None
    if kind is None:
        return MISSING
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
