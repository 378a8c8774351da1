"""The request log (issue 12): SCIM requests as a gateway saw them, and how they are read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from identity_svc.domain.errors import InvalidValue

OUTCOMES = ("", "success", "failure")
IDPS = ("", "okta", "entra", "other")
# A status from this one up is a failure (the SCIM error's detail and body are kept).
FAILURE_STATUS = 400
DEFAULT_COUNT = 50
MAX_COUNT = 200
STATS_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class RequestEntry:
    org_id: str
    time: datetime
    method: str
    route: str
    resource_id: str
    status: int
    scim_type: str
    latency_ms: float
    idp: str
    key_id: str
    request_id: str
    error_detail: str
    masked_body: str
    # Set once stored: orders entries of the same time (newest first).
    id: int = 0


@dataclass(frozen=True)
class RequestQuery:
    """ListRequests' filters and page; each filter "" for any."""

    org_id: str
    outcome: str = ""
    method: str = ""
    resource: str = ""
    idp: str = ""
    count: int = DEFAULT_COUNT
    # The (time, id) of the last entry of the previous page: older ones follow.
    before: tuple[datetime, int] | None = None

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise InvalidValue(f"outcome must be success or failure, got {self.outcome!r}")
        if self.idp not in IDPS:
            raise InvalidValue(f"idp must be okta, entra or other, got {self.idp!r}")
        if not 1 <= self.count <= MAX_COUNT:
            raise InvalidValue(f"count must be between 1 and {MAX_COUNT}, got {self.count}")


@dataclass(frozen=True)
class RequestStats:
    last_success: datetime | None
    last_error: RequestEntry | None
    requests_24h: int
    errors_24h: int


def resource_of(route: str) -> str:
    """The `resource` filter's value for a route: its first segment, lowercased."""
    return route.lstrip("/").split("/", 1)[0].lower() if route.startswith("/") else ""
