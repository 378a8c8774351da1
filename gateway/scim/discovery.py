"""Discovery documents (RFC 7643 §5-§7): truthful about what we support.

The User schemas are the same tables the identity service enforces
(scim_schema/user.py), so what we publish is what is enforced.
"""

from __future__ import annotations

from typing import Any

from gateway.settings import Settings
from scim_schema.group import GROUP
from scim_schema.model import Attribute, Schema
from scim_schema.urns import LIST_RESPONSE as LIST_SCHEMA
from scim_schema.urns import RESOURCE_TYPE as RESOURCE_TYPE_SCHEMA
from scim_schema.urns import SCHEMA as SCHEMA_SCHEMA
from scim_schema.urns import SERVICE_PROVIDER_CONFIG as SPC_SCHEMA
from scim_schema.user import (
    COMMON_ATTRIBUTES,
    CORE_USER,
    ENTERPRISE_USER,
)

SCHEMAS = (CORE_USER, ENTERPRISE_USER, GROUP)


def _attribute(attribute: Attribute) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "name": attribute.name,
        "type": attribute.type,
        "multiValued": attribute.multi_valued,
        "description": attribute.description,
        "required": attribute.required,
        "caseExact": attribute.case_exact,
        "mutability": attribute.mutability,
        "returned": attribute.returned,
        "uniqueness": attribute.uniqueness,
    }
    if attribute.canonical_values:
        rendered["canonicalValues"] = list(attribute.canonical_values)
    if attribute.reference_types:
        rendered["referenceTypes"] = list(attribute.reference_types)
    if attribute.sub_attributes:
        rendered["subAttributes"] = [_attribute(a) for a in attribute.sub_attributes]
    return rendered


# RFC 7643 §3.1: id and externalId are part of every resource schema; we publish
# them so clients see their caseExact (meta is described by the RFC itself).
_COMMON = tuple(a for a in COMMON_ATTRIBUTES if a.name in ("id", "externalId"))


def schema_resource(schema: Schema, base_url: str) -> dict[str, Any]:
    attributes = schema.attributes if schema is ENTERPRISE_USER else _COMMON + schema.attributes
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": [_attribute(a) for a in attributes],
        "meta": {"resourceType": "Schema", "location": f"{base_url}/Schemas/{schema.id}"},
    }


def resource_types(base_url: str) -> list[dict[str, Any]]:
    def resource_type(name: str, endpoint: str, schema: str, **extra: Any) -> dict[str, Any]:
        return {
            "schemas": [RESOURCE_TYPE_SCHEMA],
            "id": name,
            "name": name,
            "endpoint": endpoint,
            "description": name,
            "schema": schema,
            **extra,
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base_url}/ResourceTypes/{name}",
            },
        }

    return [
        resource_type(
            "User",
            "/Users",
            CORE_USER.id,
            schemaExtensions=[{"schema": ENTERPRISE_USER.id, "required": False}],
        ),
        resource_type("Group", "/Groups", GROUP.id),
    ]


def service_provider_config(settings: Settings, base_url: str) -> dict[str, Any]:
    return {
        "schemas": [SPC_SCHEMA],
        "documentationUri": "https://www.rfc-editor.org/rfc/rfc7644",
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": settings.bulk_max_operations,
            "maxPayloadSize": settings.max_body_bytes,
        },
        "filter": {"supported": True, "maxResults": settings.max_page_size},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        # RFC 9865 §4. Index stays the default (§2.4: what clients of
        # RFC 7644 expect); both methods page every listing, the root .search
        # included. A cursor is honoured cursorTimeout seconds after its page.
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": settings.max_page_size,
            "maxPageSize": settings.max_page_size,
            "cursorTimeout": settings.cursor_timeout_seconds,
        },
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer SCIM key",
                "description": "A SCIM key of the org, sent as 'Authorization: Bearer <key>'.",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base_url}/ServiceProviderConfig",
        },
    }


def listed(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": len(resources),
        "itemsPerPage": len(resources),
        "startIndex": 1,
        "Resources": resources,
    }
