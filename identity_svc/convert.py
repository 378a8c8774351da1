"""Domain values <-> protobuf messages: the servicers' only translation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from google.protobuf import json_format, struct_pb2, timestamp_pb2

from identity_api.v1 import identity_pb2 as pb
from identity_svc.domain.errors import InvalidValue
from identity_svc.domain.member_name import MemberName
from identity_svc.domain.models import (
    Actor,
    DeletedUser,
    Group,
    GroupRef,
    Member,
    Org,
    Role,
    RoleRule,
    ScimKey,
    User,
    WriteContext,
)
from identity_svc.domain.request_log import RequestEntry, RequestStats
from identity_svc.services.brake import BrakeStatus
from identity_svc.services.groups import MemberInclusion

_ACTOR_KINDS = {"scim_key_id": "scim_key", "admin_email": "admin", "service": "service"}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    if value.tzinfo is None:  # as Timestamp.FromDatetime reads a naive value: UTC
        value = value.replace(tzinfo=UTC)
    # Twice as fast as Timestamp.FromDatetime, which goes through a time tuple;
    # every listed resource carries two of these.
    seconds, micros = divmod((value - _EPOCH) // _MICROSECOND, 1_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=micros * 1000)


def write_context(context: pb.RequestContext, metadata_request_id: str) -> WriteContext:
    """The actor and request id every write must carry."""
    kind = context.actor.WhichOneof("kind")
    if kind is None:
        raise InvalidValue("every write must name its actor (RequestContext.actor)")
    if kind == "operator":
        actor = Actor("operator")
    else:
        name = getattr(context.actor, kind)
        if not name:
            raise InvalidValue(f"actor {kind} must not be empty")
        actor = Actor(_ACTOR_KINDS[kind], name)
    return WriteContext(actor, context.request_id or metadata_request_id)


def role_from_proto(role: pb.Role.ValueType) -> Role | None:
    if role == pb.ROLE_UNSPECIFIED:
        return None
    return Role(pb.Role.Name(role))


def role_to_proto(role: Role | None) -> pb.Role.ValueType:
    return pb.Role.Value(role.value) if role else pb.ROLE_UNSPECIFIED


def struct_to_dict(value: struct_pb2.Struct) -> dict[str, object]:
    return json_format.MessageToDict(value)


class _CarriesAttributes(Protocol):
    @property
    def attributes(self) -> struct_pb2.Struct: ...
    @property
    def attributes_json(self) -> bytes: ...


def attributes(request: _CarriesAttributes) -> dict[str, Any]:
    """A write's SCIM attributes: its JSON when sent, else its Struct (older clients)."""
    if not request.attributes_json:
        return struct_to_dict(request.attributes)
    try:
        document = orjson.loads(request.attributes_json)
    except orjson.JSONDecodeError as exc:
        raise InvalidValue(f"attributes_json is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise InvalidValue("attributes_json must be a JSON object")
    return document


def inclusion(message: pb.MemberInclusion) -> MemberInclusion:
    return MemberInclusion(message.include, message.max_members)


def member_name_from_proto(name: pb.PersonName) -> MemberName:
    """The name as the operator gave it; InvalidValue for a blank part."""
    display = name.display_name if name.HasField("display_name") else None
    return MemberName(name.given_name, name.family_name, display)


def org_to_proto(org: Org) -> pb.Org:
    return pb.Org(
        id=org.org_id,
        name=org.name,
        sso_configured=org.sso_configured,
        created=timestamp(org.created),
        default_role=role_to_proto(org.default_role),
    )


def brake_to_proto(org_id: str, status: BrakeStatus) -> pb.DeprovisioningBrake:
    state, settings = status.state, status.state.settings
    message = pb.DeprovisioningBrake(
        org_id=org_id,
        enabled=settings.enabled,
        floor=settings.floor,
        share_percent=settings.share_percent,
        window_seconds=int(settings.window.total_seconds()),
        tripped_at=timestamp(state.tripped_at),
        in_window=status.in_window,
        budget=status.budget,
        active_members=status.active_members,
        allowance=state.allowance,
        off_until=timestamp(state.off_until),
        counted_from=timestamp(state.counted_from),
    )
    if state.tripped_data:
        message.trip.update(state.tripped_data)
    return message


def key_to_proto(key: ScimKey) -> pb.ScimKey:
    return pb.ScimKey(
        id=key.id,
        org_id=key.org_id,
        name=key.name,
        created_by=key.created_by,
        created=timestamp(key.created),
        last_used=timestamp(key.last_used),
        revoked=timestamp(key.revoked),
        expires=timestamp(key.expires),
    )


def deleted_member_to_proto(deleted: DeletedUser, window: timedelta) -> pb.DeletedMember:
    return pb.DeletedMember(
        id=deleted.id,
        org_id=deleted.org_id,
        user_name=deleted.user_name,
        deleted_at=timestamp(deleted.deleted_at),
        deleted_by=deleted.deleted_by,
        restorable_until=timestamp(deleted.deleted_at + window),
    )


def _meta(created: datetime, last_modified: datetime, version: int) -> pb.ResourceMeta:
    return pb.ResourceMeta(
        created=timestamp(created), last_modified=timestamp(last_modified), version=version
    )


def group_ref_to_proto(ref: GroupRef) -> pb.GroupRef:
    return pb.GroupRef(id=ref.id, display_name=ref.display_name)


def user_to_proto(user: User, json_document: bool = False) -> pb.User:
    """The user, its document as JSON bytes when the caller asked for them.

    One orjson call instead of a Struct built value by value (and read back
    the same way): the largest cost of a listed user, before this.
    """
    message = pb.User(
        id=user.id,
        org_id=user.org_id,
        user_name=user.user_name,
        external_id=user.external_id or "",
        active=user.active,
        display_name=user.display_name or "",
        primary_email=user.primary_email or "",
        meta=_meta(user.created, user.last_modified, user.version),
        direct_role=role_to_proto(user.direct_role),
        groups=[group_ref_to_proto(g) for g in user.groups or ()],
        groups_included=user.groups is not None,
    )
    if json_document:
        message.document_json = orjson.dumps(user.document)
    else:
        message.attributes.update(user.document)
    return message


def member_to_proto(member: Member) -> pb.Member:
    return pb.Member(user_id=member.user_id, display=member.display)


def group_to_proto(group: Group) -> pb.Group:
    return pb.Group(
        id=group.id,
        org_id=group.org_id,
        display_name=group.display_name,
        external_id=group.external_id or "",
        meta=_meta(group.created, group.last_modified, group.version),
        member_count=group.member_count,
        members=[member_to_proto(m) for m in group.members or ()],
        members_included=group.members is not None,
    )


def role_rule_to_proto(rule: RoleRule) -> pb.RoleRule:
    message = pb.RoleRule(
        id=rule.id,
        org_id=rule.org_id,
        role=role_to_proto(rule.role),
        created_by=rule.created_by,
        created=timestamp(rule.created),
    )
    if rule.group_id is not None:
        message.group_id = rule.group_id
    else:
        message.group_display_name = rule.group_name or ""
    return message


def org_member_to_proto(user: User) -> pb.OrgMember:
    """A member as GraphOS services see it: suspended members have no role."""
    groups = [group_ref_to_proto(g) for g in user.groups or ()]
    return pb.OrgMember(
        user=user_to_proto(user),
        effective_role=role_to_proto(user.effective_role),
        suspended=not user.active,
        groups=groups,
        groups_included=user.groups is not None,
    )


# The fields a request log entry has under the same name on both sides.
_ENTRY_FIELDS = (
    "org_id",
    "method",
    "route",
    "resource_id",
    "status",
    "scim_type",
    "latency_ms",
    "idp",
    "key_id",
    "request_id",
    "error_detail",
    "masked_body",
)


def request_entry_from_proto(entry: pb.RequestLogEntry, received: datetime) -> RequestEntry:
    """A gateway's entry; one without a time is dated `received`."""
    time = entry.time.ToDatetime(tzinfo=UTC) if entry.HasField("time") else received
    return RequestEntry(time=time, **{f: getattr(entry, f) for f in _ENTRY_FIELDS})


def request_entry_to_proto(entry: RequestEntry) -> pb.RequestLogEntry:
    fields = {f: getattr(entry, f) for f in _ENTRY_FIELDS}
    return pb.RequestLogEntry(time=timestamp(entry.time), **fields)


def request_stats_to_proto(stats: RequestStats) -> pb.RequestStats:
    return pb.RequestStats(
        last_success=timestamp(stats.last_success),
        last_error=request_entry_to_proto(stats.last_error) if stats.last_error else None,
        requests_24h=stats.requests_24h,
        errors_24h=stats.errors_24h,
    )
