"""scim_schema's declarations are true.

What they say is stored is indexed, what is published can be filtered, and
the filter and sort tables say nothing the declarations do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from identity_api.v1 import identity_pb2 as pb
from identity_svc.db.filter_attributes import SCHEMAS, SORT_KEYS, Resource
from identity_svc.db.filters import SqlParams, compile_filter
from identity_svc.domain.errors import InvalidFilter
from identity_svc.domain.limits import MAX_INDEXED_BYTES
from scim_schema import model
from scim_schema.group import GROUP
from scim_schema.user import COMMON_ATTRIBUTES, CORE_USER, ENTERPRISE_USER, VALUE_ROW_ATTRIBUTES
from tests.unit.test_filters import cmp

DECLARED = {
    Resource.USERS: ((CORE_USER, (*COMMON_ATTRIBUTES, *CORE_USER.attributes)),
                     (ENTERPRISE_USER, ENTERPRISE_USER.attributes)),
    Resource.GROUPS: ((GROUP, (*COMMON_ATTRIBUTES, *GROUP.attributes)),),
}  # fmt: skip
TABLE = {Resource.USERS: "users", Resource.GROUPS: "groups"}


def _declared(
    resource: Resource,
) -> Iterator[tuple[model.Schema, str, model.Attribute, model.Attribute | None]]:
    """(schema, path, attribute, parent) of every declared attribute and sub-attribute."""
    for schema, attributes in DECLARED[resource]:
        for attribute in attributes:
            yield schema, attribute.name, attribute, None
            for sub in attribute.sub_attributes:
                yield schema, f"{attribute.name}.{sub.name}", sub, attribute


async def _index_definitions(conn, table: str) -> list[str]:
    rows = await conn.fetch("SELECT indexdef FROM pg_indexes WHERE tablename = $1", table)
    return [row["indexdef"] for row in rows]


def _leads_with(definitions: list[str], column: str) -> bool:
    """Some index has (org_id, column) or (org_id, lower(column)) as its first keys."""
    pattern = re.compile(rf"\(org_id, (lower\({column}\)|{column})[,)]")
    return any(pattern.search(definition) for definition in definitions)


@pytest.mark.parametrize("resource", list(Resource))
async def test_every_attribute_declared_in_a_column_has_its_index(conn, resource):
    definitions = await _index_definitions(conn, TABLE[resource])
    columns = [
        (path, a.storage)
        for _, path, a, _ in _declared(resource)
        if isinstance(a.storage, model.Column)
    ]
    assert columns, "nothing declared in a column"
    for path, storage in columns:
        assert _leads_with(definitions, storage.name), f"{path}: no index on {storage.name}"


async def test_every_attribute_declared_document_indexed_has_its_expression_index(conn):
    definitions = await _index_definitions(conn, "users")
    indexed = [
        (schema, path, a)
        for schema, path, a, _ in _declared(Resource.USERS)
        if isinstance(a.storage, model.DocumentIndex)
    ]
    assert indexed, "nothing declared DocumentIndex"
    for schema, path, attribute in indexed:
        # Top-level core attributes only, so far: extend the shape for others.
        assert schema is CORE_USER, path
        assert "." not in path, path
        shape = f"document ->> '{attribute.name}'::text"
        wanted = shape if attribute.case_exact else f"lower(({shape}))"
        (index,) = [d for d in definitions if f"(org_id, {wanted})" in d]
        # Partial at the bound every write enforces and the compiler states.
        assert index.endswith(f"WHERE (octet_length(({shape})) <= {MAX_INDEXED_BYTES})"), index


async def test_every_attribute_declared_as_value_rows_is_indexed_and_sortable_by_primary(conn):
    (values_index,) = [
        d for d in await _index_definitions(conn, "user_values") if "lower(value)" in d
    ]
    assert "(org_id, attribute, lower(value))" in values_index
    users = await _index_definitions(conn, "users")
    for attribute in CORE_USER.attributes:
        if isinstance(attribute.storage, model.ValueRows) and attribute.storage.sort_column:
            assert _leads_with(users, attribute.storage.sort_column), attribute.name
    assert set(VALUE_ROW_ATTRIBUTES) >= {"emails", "phoneNumbers", "roles"}


@pytest.mark.parametrize("resource", list(Resource))
def test_every_published_attribute_is_filterable_unless_declared_otherwise(resource):
    params = SqlParams()
    for schema, path, attribute, parent in _declared(resource):
        expression = cmp(path, pb.PR, uri=schema.id)
        unfilterable = not attribute.filterable or (parent is not None and not parent.filterable)
        if unfilterable and attribute.storage is None:
            with pytest.raises(InvalidFilter, match="unknown attribute"):
                compile_filter(resource, expression, params)
        elif attribute.filterable:
            assert compile_filter(resource, expression, params), path


@pytest.mark.parametrize("resource", list(Resource))
def test_the_filter_and_sort_tables_say_only_what_the_declarations_say(resource):
    paths = {path.lower() for _, path, a, _ in _declared(resource) if a.filterable}
    table_keys = {key for table in SCHEMAS[resource].values() for key in table}
    assert table_keys <= paths
    sortable = {
        path.lower()
        for _, path, a, _ in _declared(resource)
        if (isinstance(a.storage, model.Column | model.DocumentIndex) and a.storage.sortable)
        or (isinstance(a.storage, model.ValueRows) and a.storage.sort_column)
    }
    assert {key.removesuffix(".value") for key in SORT_KEYS[resource]} == sortable
