"""The attribute model every SCIM resource is declared in (RFC 7643 §7), plus our flags.

RFC 7643 says what an attribute is (type, multiValued, mutability, returned,
caseExact, uniqueness); `storage` says where the identity service keeps it,
which is what makes it cheap to filter or sort on:

- `Column`: a column of the resource's table (`users`, `groups`) with an index
  that leads with org_id (see identity_svc/migrations); `sortable` ones may be
  `sortBy` keys.
- `ValueRows`: a multi-valued attribute whose values are rows of
  `user_values`, indexed by (org_id, attribute, lower(value)).
- `Membership`: the group_members table (User.groups, Group.members).
- `DocumentIndex`: only in the resource's JSON document, with an expression
  index on its path (lower() of it unless caseExact), so adding one is a
  declaration and a `CREATE INDEX` (CONTRIBUTING.md shows `title`).
- None: only in the document; still filterable, through JSONB, unindexed
  (bounded by the statement timeout).

`filterable` is false only for what is never stored (`password`) or is
computed on the way out (`$ref`, most of `meta`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

AttributeType = Literal[
    "string", "boolean", "decimal", "integer", "dateTime", "reference", "binary", "complex"
]
MutabilityKind = Literal["readOnly", "readWrite", "immutable", "writeOnly"]
Returned = Literal["always", "never", "default", "request"]
Uniqueness = Literal["none", "server", "global"]


@dataclass(frozen=True)
class Column:
    """Kept in `name`, a column of the resource's table (a uuid when `uuid`)."""

    name: str
    sortable: bool = False
    uuid: bool = False


@dataclass(frozen=True)
class ValueRows:
    """Each value a row of user_values; `sort_column` on users holds the primary value."""

    sort_column: str | None = None


@dataclass(frozen=True)
class Membership:
    """A relation kept in group_members rather than in the document."""


@dataclass(frozen=True)
class DocumentIndex:
    """In the document, with an index on (org_id, lower(its path)) or on its path."""

    sortable: bool = False


Storage = Column | ValueRows | Membership | DocumentIndex


@dataclass(frozen=True)
class Attribute:
    """One attribute definition (RFC 7643 §7), and where we keep it."""

    name: str
    type: AttributeType = "string"
    description: str = ""
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: MutabilityKind = "readWrite"
    returned: Returned = "default"
    uniqueness: Uniqueness = "none"
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()
    storage: Storage | None = None
    filterable: bool = True

    def sub_attribute(self, name: str) -> Attribute | None:
        """Find a sub-attribute by name, ignoring case (RFC 7644 §3.10)."""
        return find(self.sub_attributes, name)


@dataclass(frozen=True)
class Schema:
    """A schema resource (RFC 7643 §7): its URN, name and attributes."""

    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        return find(self.attributes, name)


def find(attributes: tuple[Attribute, ...], name: str) -> Attribute | None:
    wanted = name.lower()
    return next((a for a in attributes if a.name.lower() == wanted), None)
