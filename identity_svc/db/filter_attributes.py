"""What each filterable SCIM attribute is in SQL, derived from scim_schema's declarations.

An attribute's `storage` (scim_schema/model.py) decides its SQL: a column of
`users` / `groups` (indexed), rows of `user_values` (indexed), the
group_members relation, or else a path into the user's JSON document
(unindexed; the statement timeout bounds it). Every fragment here is built
at import time from declarations and fixed text, never from a request; the
compiler (db/filters.py) adds client values only as `$n` parameters.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from identity_svc.domain.limits import MAX_INDEXED_BYTES
from scim_schema import model, urns
from scim_schema.group import GROUP
from scim_schema.user import COMMON_ATTRIBUTES, CORE_USER, ENTERPRISE_USER


class Resource(enum.Enum):
    USERS = "users"
    GROUPS = "groups"


ALIAS = {Resource.USERS: "u", Resource.GROUPS: "g"}


class Kind(enum.Enum):
    TEXT = "string"  # caseExact false: compared through lower()
    EXACT = "case-exact string"
    BOOLEAN = "boolean"
    DATETIME = "dateTime"
    UUID = "id"  # a string attribute holding one of our uuids
    COMPLEX = "complex attribute"  # only `pr`


@dataclass(frozen=True)
class Column:
    """A single value reachable as SQL: `name` is canonical, for messages."""

    name: str
    sql: str
    kind: Kind
    # A condition a comparison also states so that the partial index of a
    # DocumentIndex attribute applies (its rows' values fit an index entry).
    guard: str | None = None


@dataclass(frozen=True)
class MultiValued:
    """A multi-valued attribute: one row per value, reached through EXISTS."""

    key: str  # lower-case attribute name
    exists_prefix: str  # "EXISTS (SELECT 1 FROM ... WHERE <correlation>", closed by exists()
    subs: Mapping[str, Column]  # lower-case sub-attribute -> column of the value row

    def exists(self, condition: str) -> str:
        return f"{self.exists_prefix} AND {condition})"


Attribute = Column | MultiValued

# A group_members row `gm`: PATCH paths like members[value eq "id"] and the
# members attribute of groups share it.
MEMBERS = MultiValued(
    "members",
    "EXISTS (SELECT 1 FROM group_members gm WHERE gm.org_id = g.org_id AND gm.group_id = g.id",
    {
        "value": Column("members.value", "gm.user_id", Kind.UUID),
        "display": Column(
            "members.display",
            "(SELECT mu.display_name FROM users mu"
            " WHERE mu.org_id = gm.org_id AND mu.id = gm.user_id)",
            Kind.TEXT,
        ),
        "type": Column("members.type", "'User'", Kind.TEXT),
    },
)

_USER_GROUPS = MultiValued(
    "groups",
    "EXISTS (SELECT 1 FROM group_members ugm JOIN groups ug"
    " ON ug.org_id = ugm.org_id AND ug.id = ugm.group_id"
    " WHERE ugm.org_id = u.org_id AND ugm.user_id = u.id",
    {
        "value": Column("groups.value", "ugm.group_id", Kind.UUID),
        "display": Column("groups.display", "ug.display_name", Kind.TEXT),
        "type": Column("groups.type", "'direct'", Kind.TEXT),
    },
)

# The relations, by (resource, attribute): what group_members holds.
_MEMBERSHIPS = {(Resource.USERS, "groups"): _USER_GROUPS, (Resource.GROUPS, "members"): MEMBERS}


def _kind(attribute: model.Attribute) -> Kind:
    storage = attribute.storage
    if isinstance(storage, model.Column) and storage.uuid:
        return Kind.UUID
    if attribute.type == "boolean":
        return Kind.BOOLEAN
    if attribute.type == "dateTime":
        return Kind.DATETIME
    if attribute.type == "complex":
        return Kind.COMPLEX
    return Kind.EXACT if attribute.case_exact else Kind.TEXT


def _json(container: str, key: str, kind: Kind) -> str:
    """`container`'s member `key` as SQL of `kind` (NULL when absent or of another type)."""
    if not container:
        raise ValueError(f"{key}: this resource has no document; declare where it is kept")
    if kind is Kind.BOOLEAN:
        return (
            f"(CASE WHEN jsonb_typeof({container}->'{key}') = 'boolean'"
            f" THEN ({container}->>'{key}')::boolean END)"
        )
    if kind is Kind.COMPLEX:
        return f"({container}->'{key}')"
    if kind in (Kind.TEXT, Kind.EXACT):
        return f"({container}->>'{key}')"
    raise ValueError(f"{key}: a {kind.value} kept only in the document cannot be filtered")


def _value_rows(name: str) -> MultiValued:
    prefix = (
        "EXISTS (SELECT 1 FROM user_values v WHERE v.org_id = u.org_id AND v.user_id = u.id"
        f" AND v.attribute = '{name}'"
    )
    subs = {
        "value": Column(f"{name}.value", "v.value", Kind.TEXT),
        "type": Column(f"{name}.type", "v.type", Kind.TEXT),
        "display": Column(f"{name}.display", "v.display", Kind.TEXT),
        "primary": Column(f"{name}.primary", "v.is_primary", Kind.BOOLEAN),
    }
    return MultiValued(name.lower(), prefix, subs)


def _json_array(attribute: model.Attribute, container: str) -> MultiValued:
    """A multi-valued complex attribute kept only in the document: one EXISTS over its array."""
    name, array = attribute.name, f"({container}->'{attribute.name}')"
    prefix = (
        "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE jsonb_typeof("
        f"{array}) WHEN 'array' THEN {array} ELSE '[]'::jsonb END) AS jv WHERE TRUE"
    )
    subs = {
        sub.name.lower(): _single(sub, f"{name}.{sub.name}", "", "jv.value")
        for sub in attribute.sub_attributes
        if sub.filterable
    }
    return MultiValued(name.lower(), prefix, subs)


def _single(declared: model.Attribute, name: str, alias: str, container: str) -> Column:
    """A single value: its column when declared with one, else its place in `container`.

    A DocumentIndex attribute's path is spelled as its index spells it.
    """
    kind = _kind(declared)
    if isinstance(declared.storage, model.Column):
        return Column(name, f"{alias}.{declared.storage.name}", kind)
    sql = _json(container, declared.name, kind)
    if isinstance(declared.storage, model.DocumentIndex):
        # Its index is partial (values within MAX_INDEXED_BYTES, which every
        # write since enforces), so an older over-long value cannot stop the
        # migration; stating the same bound lets comparisons use it.
        return Column(name, sql, kind, f"octet_length({sql}) <= {MAX_INDEXED_BYTES}")
    return Column(name, sql, kind)


def _sort_sql(column: Column) -> str:
    return f"lower({column.sql})" if column.kind is Kind.TEXT else column.sql


def _entries(
    resource: Resource, attribute: model.Attribute, container: str
) -> Iterable[tuple[str, Attribute]]:
    """The table entries of one declared attribute (and of its sub-attributes)."""
    alias, name, storage = ALIAS[resource], attribute.name, attribute.storage
    if isinstance(storage, model.Membership):
        yield name.lower(), _MEMBERSHIPS[(resource, name)]
    elif isinstance(storage, model.ValueRows):
        yield name.lower(), _value_rows(name)
    elif attribute.multi_valued:
        yield name.lower(), _json_array(attribute, container)
    else:
        if attribute.filterable:
            yield name.lower(), _single(attribute, name, alias, container)
        inner = f"{container}->'{name}'"
        for sub in attribute.sub_attributes:
            if sub.filterable:
                full = f"{name}.{sub.name}"
                yield full.lower(), _single(sub, full, alias, inner)


def _table(
    resource: Resource, attributes: Iterable[model.Attribute], container: str
) -> dict[str, Attribute]:
    return {key: entry for a in attributes for key, entry in _entries(resource, a, container)}


_ENTERPRISE_DOCUMENT = f"u.document->'{urns.ENTERPRISE_USER}'"

# By lower-case schema URI, core first: a name without URI is looked up in order.
SCHEMAS: Mapping[Resource, Mapping[str, Mapping[str, Attribute]]] = {
    Resource.USERS: {
        CORE_USER.id.lower(): _table(
            Resource.USERS, (*COMMON_ATTRIBUTES, *CORE_USER.attributes), "u.document"
        ),
        ENTERPRISE_USER.id.lower(): _table(
            Resource.USERS, ENTERPRISE_USER.attributes, _ENTERPRISE_DOCUMENT
        ),
    },
    # Groups have no document: every attribute they declare has its storage.
    Resource.GROUPS: {
        GROUP.id.lower(): _table(Resource.GROUPS, (*COMMON_ATTRIBUTES, *GROUP.attributes), "")
    },
}


def _sort_keys(
    resource: Resource, attributes: Iterable[model.Attribute], container: str
) -> dict[str, str]:
    """The sortBy keys: indexed attributes only (SPEC §3).

    A multi-valued attribute sorts by its primary value (RFC 7644 §3.4.2.3).
    """
    alias, keys = ALIAS[resource], {}
    for attribute in attributes:
        inner = f"{container}->'{attribute.name}'"
        for name, declared, where in (
            (attribute.name, attribute, container),
            *((f"{attribute.name}.{s.name}", s, inner) for s in attribute.sub_attributes),
        ):
            storage = declared.storage
            if isinstance(storage, model.Column | model.DocumentIndex) and storage.sortable:
                keys[name.lower()] = _sort_sql(_single(declared, name, alias, where))
            if isinstance(storage, model.ValueRows) and storage.sort_column:
                primary = f"lower({alias}.{storage.sort_column})"
                keys[name.lower()] = keys[f"{name}.value".lower()] = primary
    return keys


SORT_KEYS: Mapping[Resource, Mapping[str, str]] = {
    Resource.USERS: _sort_keys(
        Resource.USERS, (*COMMON_ATTRIBUTES, *CORE_USER.attributes), "u.document"
    ),
    Resource.GROUPS: _sort_keys(Resource.GROUPS, (*COMMON_ATTRIBUTES, *GROUP.attributes), ""),
}
