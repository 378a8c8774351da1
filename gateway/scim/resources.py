"""Protobuf resources -> SCIM JSON (RFC 7643), with meta, location and ETag."""

from __future__ import annotations

from typing import Any

import orjson
from google.protobuf import json_format, timestamp_pb2

from identity_api.v1 import identity_pb2 as pb
from scim_schema.urns import CORE_USER as USER_SCHEMA
from scim_schema.urns import GROUP as GROUP_SCHEMA
from scim_schema.urns import LIST_RESPONSE as LIST_SCHEMA


def etag(version: int) -> str:
    """The weak entity tag of a resource version; meta.version is the same text."""
    return f'W/"{version}"'


def parse_etag(header: str) -> int | None:
    """The version an If-Match/If-None-Match entity tag names, ignoring W/."""
    tag = header.strip().removeprefix("W/").strip('"')
    # Versions are int64: a longer or non-ASCII digit string names none of ours.
    return int(tag) if tag.isascii() and tag.isdigit() and len(tag) <= 18 else None


def timestamp(value: timestamp_pb2.Timestamp) -> str:
    return value.ToDatetime().isoformat(timespec="milliseconds") + "Z"


def _meta(resource_type: str, meta: pb.ResourceMeta, location: str) -> dict[str, str]:
    return {
        "resourceType": resource_type,
        "created": timestamp(meta.created),
        "lastModified": timestamp(meta.last_modified),
        "location": location,
        "version": etag(meta.version),
    }


def user_location(base_url: str, user_id: str) -> str:
    return f"{base_url}/Users/{user_id}"


def group_location(base_url: str, group_id: str) -> str:
    return f"{base_url}/Groups/{group_id}"


def user_resource(user: pb.User, base_url: str) -> dict[str, Any]:
    """The SCIM User: the stored document plus id, meta and (if fetched) groups."""
    # JSON when asked for (json_document); the Struct from an older identity service.
    document = (
        orjson.loads(user.document_json)
        if user.document_json
        else json_format.MessageToDict(user.attributes)
    )
    # Readable order: schemas, id, the identifiers, then the rest as stored.
    resource: dict[str, Any] = {"schemas": document.pop("schemas", [USER_SCHEMA]), "id": user.id}
    for key in ("externalId", "userName"):
        if key in document:
            resource[key] = document.pop(key)
    resource.update(document)
    resource["active"] = user.active  # the status in force, even where a document omits it
    if user.groups_included:
        resource["groups"] = [
            {
                "value": ref.id,
                "display": ref.display_name,
                "$ref": group_location(base_url, ref.id),
                "type": "direct",
            }
            for ref in user.groups
        ]
    resource["meta"] = _meta("User", user.meta, user_location(base_url, user.id))
    return resource


def member_value(member: pb.Member, base_url: str) -> dict[str, str]:
    value = {"value": member.user_id}
    if member.display:  # the user's displayName; nothing made up when it has none
        value["display"] = member.display
    value["$ref"] = user_location(base_url, member.user_id)
    value["type"] = "User"
    return value


def group_resource(group: pb.Group, base_url: str) -> dict[str, Any]:
    """The SCIM Group; members only when the identity service sent them."""
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": group.id,
        "displayName": group.display_name,
    }
    if group.external_id:
        resource["externalId"] = group.external_id
    if group.members_included:
        resource["members"] = [member_value(m, base_url) for m in group.members]
    resource["meta"] = _meta("Group", group.meta, group_location(base_url, group.id))
    return resource


def list_response(
    resources: list[dict[str, Any]],
    total: int,
    start_index: int | None,
    next_cursor: str | None = None,
    previous_cursor: str | None = None,
) -> dict[str, Any]:
    """RFC 7644 §3.4.2 ListResponse; cursor pages (RFC 9865) carry next/previousCursor."""
    body: dict[str, Any] = {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "itemsPerPage": len(resources),
    }
    if start_index is not None:
        body["startIndex"] = start_index
    if next_cursor:
        body["nextCursor"] = next_cursor
    if previous_cursor:
        body["previousCursor"] = previous_cursor
    body["Resources"] = resources
    return body
