"""The reasons an identity service error names, in its google.rpc.ErrorInfo.

Part of the contract: the identity service picks one per domain error
(`identity_svc/interceptors.ERRORS`), the gateway maps each it can receive to
a SCIM error (`gateway/identity_client.py`). A member's value is what travels.
"""

from __future__ import annotations

import enum


class Reason(enum.StrEnum):
    NOT_FOUND = "NOT_FOUND"
    UNIQUENESS = "UNIQUENESS"
    VERSION_MISMATCH = "VERSION_MISMATCH"
    INVALID_FILTER = "INVALID_FILTER"
    INVALID_VALUE = "INVALID_VALUE"
    INVALID_PATH = "INVALID_PATH"
    NO_TARGET = "NO_TARGET"
    MUTABILITY = "MUTABILITY"
    INVALID_CURSOR = "INVALID_CURSOR"
    TOO_MANY = "TOO_MANY"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    DEPROVISIONING_PAUSED = "DEPROVISIONING_PAUSED"
