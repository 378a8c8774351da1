"""Rendering of identityctl's results: JSON-ready data and human text.

Timestamps are ISO 8601 in UTC (RFC 3339 with ``Z``); roles are their names.
Nothing here ever renders a key's secret: only ``key create`` adds the token.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from identity_api.v1 import identity_pb2 as pb
from identityctl.settings import Settings


@dataclass(frozen=True)
class Output:
    """What a command prints: ``data`` with --json, ``text`` otherwise.

    ``warning`` goes to stderr either way, so ``--json`` output stays parseable.
    """

    data: Any
    text: str
    warning: str = ""


def iso(ts: Timestamp, parent: Message, field: str) -> str | None:
    """ISO 8601 UTC (RFC 3339, ``Z``) for a set timestamp field, None when unset."""
    return ts.ToJsonString() if parent.HasField(field) else None


def org_data(org: pb.Org, settings: Settings) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "sso_configured": org.sso_configured,
        "created": iso(org.created, org, "created"),
        "scim_url": settings.scim_url(org.id),
        "default_role": role_name(org.default_role),
    }


def org_output(org: pb.Org, settings: Settings, headline: str) -> Output:
    data = org_data(org, settings)
    text = (
        f"{headline}\n"
        f"  name:           {org.name}\n"
        f"  SSO configured: {'yes' if org.sso_configured else 'no'}\n"
        f"  created:        {data['created'] or '-'}\n"
        f"  SCIM base URL:  {data['scim_url']}\n"
    )
    return Output(data, text)


def key_data(key: pb.ScimKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "org_id": key.org_id,
        "name": key.name,
        "created_by": key.created_by,
        "created": iso(key.created, key, "created"),
        "last_used": iso(key.last_used, key, "last_used"),
        "revoked": iso(key.revoked, key, "revoked"),
        "expires": iso(key.expires, key, "expires"),
    }


KEY_COLUMNS = ("id", "name", "created_by", "created", "last_used", "expires", "revoked")


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[str(row[c]) if row[c] is not None else "-" for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = [[c.upper() for c in columns], *cells]
    return "".join(
        "  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() + "\n"
        for line in lines
    )


def user_data(user: pb.User) -> dict[str, Any]:
    role = pb.Role.Name(user.direct_role) if user.direct_role else None
    return {
        "id": user.id,
        "org_id": user.org_id,
        "user_name": user.user_name,
        "active": user.active,
        "direct_role": role,
    }


def event_data(event: pb.Event) -> dict[str, Any]:
    return {
        "org_id": event.org_id,
        "seq": event.seq,
        "type": event.type,
        "resource_type": event.resource_type,
        "resource_id": event.resource_id,
        "actor": event.actor,
        "request_id": event.request_id,
        "occurred_at": iso(event.occurred_at, event, "occurred_at"),
        "data": json_format.MessageToDict(event.data),
    }


def event_line(data: dict[str, Any]) -> str:
    """One readable line: seq, time, type, resource, actor, request id, details."""
    details = json.dumps(data["data"], separators=(",", ":")) if data["data"] else ""
    return (
        f"{data['seq']:>6}  {data['occurred_at'] or '-'}  {data['type']:<22}  "
        f"{data['resource_type']}/{data['resource_id']}  by {data['actor']}  "
        f"[request {data['request_id']}]  {details}".rstrip()
        + "\n"
    )


def role_name(role: pb.Role.ValueType) -> str | None:
    return pb.Role.Name(role) if role else None


def rule_data(rule: pb.RoleRule) -> dict[str, Any]:
    by_id = rule.WhichOneof("group") == "group_id"
    return {
        "id": rule.id,
        "org_id": rule.org_id,
        "group_id": rule.group_id if by_id else None,
        "group_name": None if by_id else rule.group_display_name,
        "role": role_name(rule.role),
        "created_by": rule.created_by,
        "created": iso(rule.created, rule, "created"),
    }


RULE_COLUMNS = ("id", "group_id", "group_name", "role", "created_by")


def member_data(member: pb.OrgMember) -> dict[str, Any]:
    """A member as GraphOS sees it: `role` is the effective role (None when suspended)."""
    return {
        **user_data(member.user),
        "role": role_name(member.effective_role),
        "suspended": member.suspended,
        "groups": [{"id": g.id, "display_name": g.display_name} for g in member.groups],
    }


def member_text(data: dict[str, Any]) -> str:
    groups = ", ".join(g["display_name"] for g in data["groups"]) or "-"
    return (
        f"{data['user_name']} in {data['org_id']}\n"
        f"  id:          {data['id']}\n"
        f"  active:      {'yes' if data['active'] else 'no'}"
        f"{' (suspended)' if data['suspended'] else ''}\n"
        f"  role:        {data['role'] or '-'}\n"
        f"  direct role: {data['direct_role'] or '-'}\n"
        f"  groups:      {groups}\n"
    )


def deleted_member_data(member: pb.DeletedMember) -> dict[str, Any]:
    return {
        "id": member.id,
        "org_id": member.org_id,
        "user_name": member.user_name,
        "deleted_at": iso(member.deleted_at, member, "deleted_at"),
        "deleted_by": member.deleted_by,
        "restorable_until": iso(member.restorable_until, member, "restorable_until"),
    }
