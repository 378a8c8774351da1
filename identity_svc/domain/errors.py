"""What can go wrong in the identity domain, without any transport codes.

`identity_svc/interceptors.py` maps each class to a gRPC status and reason,
and the gateway maps those to SCIM errors; each mapping lives in one table.
"""


class DomainError(Exception):
    """Base of every expected failure; its message is safe to show a client."""


class NotFound(DomainError):
    """The resource does not exist in this org (or its id is malformed)."""


class AlreadyExists(DomainError):
    """A uniqueness rule was broken; `field` names the attribute."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class VersionMismatch(DomainError):
    """The resource's version is not the expected one (If-Match)."""


class InvalidFilter(DomainError):
    """A filter names an unknown attribute or compares it wrongly."""


class InvalidValue(DomainError):
    """A value is missing, of the wrong type, or refers to unknown resources."""


class InvalidPath(DomainError):
    """A PATCH path names no attribute we know."""


class NoTarget(DomainError):
    """A PATCH path or filter selects nothing where something is required."""


class Mutability(DomainError):
    """A PATCH would change a read-only or immutable attribute."""


class InvalidCursor(DomainError):
    """A pagination cursor we did not issue, or one that no longer applies."""


class TooMany(DomainError):
    """A request asks for more than the service answers at once."""


class PermissionDenied(DomainError):
    """The actor may not do this (e.g. not an Org Admin of the org)."""


class FailedPrecondition(DomainError):
    """The org is not in a state that allows this (e.g. no SSO configured)."""


class DeprovisioningPaused(DomainError):
    """The org's deprovisioning brake refuses this deprovision (README "When the IdP goes wrong").

    `trip` holds the figures when this refusal trips the brake (None: it already
    was); `retry_after_seconds` is what the IdP is told to wait.
    """

    def __init__(
        self, message: str, retry_after_seconds: int, trip: dict[str, int] | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.trip = trip
