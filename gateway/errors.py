"""SCIM errors (RFC 7644 §3.12): one class per answer, rendered in one place.

Each class carries its HTTP status and scimType; `ScimError.body()` is the
§3.12 JSON, with `status` as a string.
"""

from __future__ import annotations

from typing import Any, ClassVar

from scim_schema.urns import ERROR as ERROR_SCHEMA


class ScimError(Exception):
    """Base of every error the gateway answers with; its message is client-safe."""

    status: ClassVar[int] = 400
    scim_type: ClassVar[str | None] = None

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": [ERROR_SCHEMA],
            "status": str(self.status),
            "detail": self.detail,
        }
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidValue(ScimError):
    scim_type = "invalidValue"


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class NoTarget(ScimError):
    scim_type = "noTarget"


class Mutability(ScimError):
    scim_type = "mutability"


class TooMany(ScimError):
    scim_type = "tooMany"


# RFC 9865 §2.1, Table 3: the pagination errors.
class InvalidCursor(ScimError):
    scim_type = "invalidCursor"


class ExpiredCursor(ScimError):
    scim_type = "expiredCursor"


class InvalidCount(ScimError):
    scim_type = "invalidCount"


class InvalidVersion(ScimError):
    scim_type = "invalidVers"


class Unauthorized(ScimError):
    status = 401


class Forbidden(ScimError):
    status = 403


class NotFound(ScimError):
    status = 404


class MethodNotAllowed(ScimError):
    status = 405


class Conflict(ScimError):
    status = 409
    scim_type = "uniqueness"


class PreconditionFailed(ScimError):
    status = 412


class PayloadTooLarge(ScimError):
    status = 413


class UriTooLong(ScimError):
    status = 414


class TooManyRequests(ScimError):
    status = 429


class HeaderFieldsTooLarge(ScimError):
    status = 431  # RFC 6585 §5


class InternalError(ScimError):
    status = 500


class NotImplementedFeature(ScimError):
    status = 501


class ServiceUnavailable(ScimError):
    status = 503
