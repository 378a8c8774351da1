"""The SCIM User schema as data: RFC 7643 §4.1 (core), §4.3 (enterprise), §3.1 (common).

Validation, PATCH and the gateway's /Schemas endpoint all read these tables, so
what we publish is what we enforce. Values follow RFC 7643 §8.7.1.
"""

from __future__ import annotations

from dataclasses import dataclass

from scim_schema.model import (
    Attribute,
    Column,
    DocumentIndex,
    Membership,
    MutabilityKind,
    Schema,
    ValueRows,
    find,
)
from scim_schema.urns import CORE_USER as CORE_USER_SCHEMA
from scim_schema.urns import ENTERPRISE_USER as ENTERPRISE_USER_SCHEMA


def _primary(what: str) -> Attribute:
    return Attribute(
        "primary",
        "boolean",
        f"Whether this is the preferred {what}; true at most once (RFC 7643 §2.4).",
    )


def _display() -> Attribute:
    return Attribute("display", description="A human-readable name, primarily for display.")


def _multi(
    name: str,
    description: str,
    types: tuple[str, ...],
    value: Attribute | None = None,
    storage: ValueRows = ValueRows(),  # noqa: B008 (frozen, so shared safely)
) -> Attribute:
    """A multi-valued complex attribute with value, display, type and primary, kept as rows."""
    value = value or Attribute("value", description=f"The {name} value.")
    subs = (
        value,
        _display(),
        Attribute("type", description="A label for the value's function.", canonical_values=types),
        _primary(name),
    )
    return Attribute(
        name, "complex", description, multi_valued=True, sub_attributes=subs, storage=storage
    )


_WORK_HOME = ("work", "home", "other")
_READ_ONLY: MutabilityKind = "readOnly"

_NAME = Attribute(
    "name",
    "complex",
    "The components of the user's real name.",
    sub_attributes=(
        Attribute("formatted", description="The full name, formatted for display."),
        Attribute(
            "familyName",
            description="The family name (last name in Western languages).",
            storage=Column("family_name", sortable=True),
        ),
        Attribute(
            "givenName",
            description="The given name (first name in Western languages).",
            storage=Column("given_name", sortable=True),
        ),
        Attribute("middleName", description="The middle name(s)."),
        Attribute("honorificPrefix", description="The honorific prefix(es), e.g. 'Ms.'."),
        Attribute("honorificSuffix", description="The honorific suffix(es), e.g. 'III'."),
    ),
)

_ADDRESSES = Attribute(
    "addresses",
    "complex",
    "A physical mailing address for this user.",
    multi_valued=True,
    sub_attributes=(
        Attribute("formatted", description="The full mailing address, formatted for display."),
        Attribute("streetAddress", description="The full street address component."),
        Attribute("locality", description="The city or locality component."),
        Attribute("region", description="The state or region component."),
        Attribute("postalCode", description="The zip code or postal code component."),
        Attribute("country", description="The country name component (ISO 3166-1 alpha-2)."),
        Attribute("type", description="A label for the address.", canonical_values=_WORK_HOME),
        _primary("mailing address"),
    ),
)

_GROUPS = Attribute(
    "groups",
    "complex",
    "The groups the user belongs to; managed through the Group resource (RFC 7643 §4.1.2).",
    multi_valued=True,
    mutability=_READ_ONLY,
    storage=Membership(),
    sub_attributes=(
        Attribute("value", description="The group's id.", mutability=_READ_ONLY),
        Attribute(
            "$ref",
            "reference",
            "The URI of the group.",
            mutability=_READ_ONLY,
            reference_types=("User", "Group"),
            filterable=False,  # computed from the id on the way out
        ),
        Attribute("display", description="The group's displayName.", mutability=_READ_ONLY),
        Attribute(
            "type",
            description="How the membership is held.",
            mutability=_READ_ONLY,
            canonical_values=("direct", "indirect"),
        ),
    ),
)

# RFC 7643 §3.1: attributes every resource carries, outside any schema's list.
COMMON_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "id",
        description="Unique identifier assigned by the service provider.",
        case_exact=True,
        mutability=_READ_ONLY,
        returned="always",
        uniqueness="server",
        storage=Column("id", sortable=True, uuid=True),
    ),
    Attribute(
        "externalId",
        description="Identifier of the resource as defined by the provisioning client.",
        case_exact=True,
        storage=Column("external_id", sortable=True),
    ),
    Attribute(
        "meta",
        "complex",
        "Resource metadata maintained by the service provider.",
        mutability=_READ_ONLY,
        filterable=False,  # not in the document; its stored dates are, below
        sub_attributes=(
            # resourceType, location and version are computed on the way out.
            Attribute("resourceType", case_exact=True, mutability=_READ_ONLY, filterable=False),
            Attribute(
                "created",
                "dateTime",
                mutability=_READ_ONLY,
                storage=Column("created", sortable=True),
            ),
            Attribute(
                "lastModified",
                "dateTime",
                mutability=_READ_ONLY,
                storage=Column("last_modified", sortable=True),
            ),
            Attribute(
                "location",
                "reference",
                case_exact=True,
                mutability=_READ_ONLY,
                reference_types=("uri",),
                filterable=False,
            ),
            Attribute("version", case_exact=True, mutability=_READ_ONLY, filterable=False),
        ),
    ),
)

CORE_USER = Schema(
    id=CORE_USER_SCHEMA,
    name="User",
    description="User Account",
    attributes=(
        Attribute(
            "userName",
            description="Unique identifier for the user, used to authenticate.",
            required=True,
            uniqueness="server",
            storage=Column("user_name", sortable=True),
        ),
        _NAME,
        Attribute(
            "displayName",
            description="The name of the user, suitable for display.",
            storage=Column("display_name", sortable=True),
        ),
        Attribute("nickName", description="The casual way to address the user."),
        Attribute(
            "profileUrl",
            "reference",
            "A URI pointing to the user's online profile.",
            reference_types=("external",),
        ),
        Attribute(
            "title",
            description="The user's title, such as 'Vice President'.",
            storage=DocumentIndex(sortable=True),  # migration 0010
        ),
        Attribute("userType", description="The relationship to the organization, e.g. 'Employee'."),
        Attribute("preferredLanguage", description="Preferred written or spoken language."),
        Attribute("locale", description="Default location, e.g. 'en-US' (RFC 5646)."),
        Attribute("timezone", description="Time zone in IANA format, e.g. 'America/Los_Angeles'."),
        Attribute(
            "active",
            "boolean",
            "The user's administrative status.",
            storage=Column("active", sortable=True),
        ),
        Attribute(
            "password",
            description="Accepted and discarded: this service never stores passwords.",
            case_exact=True,
            mutability="writeOnly",
            returned="never",
            filterable=False,  # never stored
        ),
        _multi(
            "emails",
            "Email addresses for the user.",
            _WORK_HOME,
            storage=ValueRows(sort_column="primary_email"),
        ),
        _multi(
            "phoneNumbers",
            "Phone numbers for the user.",
            ("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi(
            "ims",
            "Instant messaging addresses for the user.",
            ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi(
            "photos",
            "URLs of photos of the user.",
            ("photo", "thumbnail"),
            Attribute(
                "value",
                "reference",
                "The URL of a photo of the user.",
                reference_types=("external",),
            ),
        ),
        _ADDRESSES,
        _GROUPS,
        _multi("entitlements", "Entitlements of the user.", ()),
        _multi("roles", "Roles of the user.", ()),
        _multi(
            "x509Certificates",
            "X.509 certificates issued to the user.",
            (),
            Attribute("value", "binary", "The DER-encoded certificate, base64.", case_exact=True),
        ),
    ),
)

ENTERPRISE_USER = Schema(
    id=ENTERPRISE_USER_SCHEMA,
    name="EnterpriseUser",
    description="Enterprise User",
    attributes=(
        Attribute("employeeNumber", description="Identifier assigned by the organization."),
        Attribute("costCenter", description="Name of a cost center."),
        Attribute("organization", description="Name of an organization."),
        Attribute("division", description="Name of a division."),
        Attribute("department", description="Name of a department."),
        Attribute(
            "manager",
            "complex",
            "The user's manager.",
            sub_attributes=(
                Attribute("value", description="The id of the manager's User resource."),
                Attribute(
                    "$ref",
                    "reference",
                    "The URI of the manager's User resource.",
                    reference_types=("User",),
                ),
                Attribute(
                    "displayName",
                    description="The manager's displayName.",
                    mutability=_READ_ONLY,
                ),
            ),
        ),
    ),
)

USER_SCHEMAS: tuple[Schema, ...] = (CORE_USER, ENTERPRISE_USER)
# The top-level attributes with an expression index on their document path,
# whose values the write path bounds like any other indexed value.
DOCUMENT_INDEXED = tuple(
    a.name for a in CORE_USER.attributes if isinstance(a.storage, DocumentIndex)
)
# The multi-valued attributes kept as user_values rows (filters, the write path).
VALUE_ROW_ATTRIBUTES = tuple(
    a.name for a in CORE_USER.attributes if isinstance(a.storage, ValueRows)
)
# Schemas that live in the document under their URN (RFC 7643 §3.3).
EXTENSION_SCHEMAS: tuple[Schema, ...] = (ENTERPRISE_USER,)


@dataclass(frozen=True)
class ResolvedAttribute:
    """An attribute together with the schema it belongs to."""

    schema: Schema
    attribute: Attribute


def find_schema(uri: str) -> Schema | None:
    """Return the User schema or extension with this URN, ignoring case."""
    wanted = uri.lower()
    return next((s for s in USER_SCHEMAS if s.id.lower() == wanted), None)


def split_schema_uri(name: str) -> tuple[str, str]:
    """Split "urn:...:User:employeeNumber" into (schema URN, "employeeNumber").

    A name without a known schema prefix comes back as ("", name). The URN of
    the enterprise extension contains a dot ("2.0"), so callers split on "."
    only what this leaves.
    """
    lowered = name.lower()
    for schema in USER_SCHEMAS:
        prefix = schema.id.lower() + ":"
        if lowered.startswith(prefix):
            return schema.id, name[len(prefix) :]
    return "", name


def resolve_attribute(name: str, schema_uri: str = "") -> ResolvedAttribute | None:
    """Resolve `[urn:]attribute` case-insensitively to its definition.

    Unqualified names belong to the core schema (or the common attributes),
    as RFC 7644 §3.10 assumes; extension attributes need their URN.
    """
    if not schema_uri:
        schema_uri, name = split_schema_uri(name)
    schema = find_schema(schema_uri) if schema_uri else CORE_USER
    if schema is None:
        return None
    found = schema.attribute(name)
    if found is None and schema is CORE_USER:
        found = find(COMMON_ATTRIBUTES, name)
    return ResolvedAttribute(schema, found) if found is not None else None
