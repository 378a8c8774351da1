"""Domain values that cross module boundaries inside the identity service."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Role(enum.Enum):
    """GraphOS roles, declared from the highest precedence to the lowest."""

    ORG_ADMIN = "ORG_ADMIN"
    GRAPH_ADMIN = "GRAPH_ADMIN"
    CONTRIBUTOR = "CONTRIBUTOR"
    DOCUMENTER = "DOCUMENTER"
    OBSERVER = "OBSERVER"
    CONSUMER = "CONSUMER"
    BILLING_MANAGER = "BILLING_MANAGER"


@dataclass(frozen=True)
class Actor:
    """Who a write is done for, as recorded in the event log ("kind:name")."""

    kind: str  # "scim_key", "admin", "operator" or "service"
    name: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}" if self.name else self.kind


@dataclass(frozen=True)
class WriteContext:
    actor: Actor
    request_id: str


@dataclass(frozen=True)
class MultiValue:
    """One value of a multi-valued attribute (emails, phoneNumbers, ...)."""

    attribute: str
    position: int
    value: str | None
    type: str | None
    display: str | None
    primary: bool


@dataclass(frozen=True)
class UserFields:
    """The columns derived from a user's SCIM document, for indexes and filters."""

    user_name: str
    external_id: str | None
    active: bool
    display_name: str | None
    given_name: str | None
    family_name: str | None
    primary_email: str | None
    values: tuple[MultiValue, ...]


@dataclass(frozen=True)
class Org:
    org_id: str
    name: str
    sso_configured: bool
    created: datetime
    default_role: Role | None = None


@dataclass(frozen=True)
class GroupRef:
    id: str
    display_name: str


@dataclass(frozen=True)
class User:
    id: str
    org_id: str
    user_name: str
    external_id: str | None
    active: bool
    display_name: str | None
    primary_email: str | None
    document: dict[str, Any]
    direct_role: Role | None
    version: int
    created: datetime
    last_modified: datetime
    groups: tuple[GroupRef, ...] | None = None
    # Kept by the identity service, not part of the SCIM resource (no version bump).
    effective_role: Role | None = None


@dataclass(frozen=True)
class DeletedUser:
    """A member deleted through SCIM, restorable until its window has passed."""

    id: str
    org_id: str
    user_name: str
    document: dict[str, Any]
    direct_role: Role | None
    version: int
    created: datetime
    group_ids: tuple[str, ...]
    deleted_at: datetime
    deleted_by: str


@dataclass(frozen=True)
class RoleRule:
    """Members of a group (by id, or by displayName ignoring case) get `role`."""

    id: str
    org_id: str
    group_id: str | None
    group_name: str | None
    role: Role
    created_by: str
    created: datetime


@dataclass(frozen=True)
class RoleChange:
    """One member's effective role moved from `before` to `after`."""

    user_id: str
    before: Role | None
    after: Role | None


@dataclass(frozen=True)
class Member:
    user_id: str
    display: str


@dataclass(frozen=True)
class Group:
    id: str
    org_id: str
    display_name: str
    external_id: str | None
    member_count: int
    version: int
    created: datetime
    last_modified: datetime
    members: tuple[Member, ...] | None = None


@dataclass(frozen=True)
class ScimKey:
    id: str
    org_id: str
    name: str
    created_by: str
    created: datetime
    last_used: datetime | None
    revoked: datetime | None
    # None: never expires. An expired key is refused like a revoked one.
    expires: datetime | None = None

    def live(self, now: datetime) -> bool:
        """Neither revoked nor expired at `now`."""
        return self.revoked is None and (self.expires is None or now < self.expires)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing; a cursor is empty where there is no such page."""

    total_results: int
    items: tuple[T, ...]
    start_index: int
    next_cursor: str = ""
    previous_cursor: str = ""
