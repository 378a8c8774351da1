"""The console's only way to the data: the identity service's gRPC API.

Calls carry the operator credential (as identityctl's) and act for the
signed-in admin: every RequestContext names `admin_email`, so the identity
service's require_org_admin decides, not the console. `calling()` is the one
place gRPC errors become console errors.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import grpc

from console.errors import BadInput, ConsoleError, Forbidden, NotFound, Unavailable
from identity_api.client_tls import aio_channel
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identityctl.settings import Settings as IdentityAccess

log = logging.getLogger("console")

TIMEOUT_SECONDS = 10.0

_Resp = TypeVar("_Resp")

# The service's own message is the admin's explanation (it names the field
# or the rule): these codes are refusals of what the admin asked.
_REFUSALS: dict[grpc.StatusCode, type[ConsoleError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: BadInput,
    grpc.StatusCode.FAILED_PRECONDITION: BadInput,
    grpc.StatusCode.ALREADY_EXISTS: BadInput,
    grpc.StatusCode.OUT_OF_RANGE: BadInput,
    grpc.StatusCode.PERMISSION_DENIED: Forbidden,
    grpc.StatusCode.NOT_FOUND: NotFound,
}
_UNAVAILABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


@contextlib.contextmanager
def calling() -> Iterator[None]:
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
        if code in _REFUSALS:
            raise _REFUSALS[code](exc.details() or "") from exc
        if code in _UNAVAILABLE:
            raise Unavailable("Try again in a moment.") from exc
        # UNAUTHENTICATED (the console's own credential), INTERNAL, ...:
        # the operator's problem, logged; the admin sees a generic page.
        log.error("identity service call failed: %s %s", code.name, exc.details())
        raise ConsoleError("The identity service refused the console's request.") from exc


def as_admin(email: str) -> pb.RequestContext:
    """The context of every call made for a signed-in admin."""
    return pb.RequestContext(actor=pb.Actor(admin_email=email), request_id=uuid.uuid4().hex)


def open_channel(access: IdentityAccess) -> grpc.aio.Channel:
    return aio_channel(access.identity_addr, access.tls)


class Identity:
    """OrgAdmin and Directory stubs; `call` adds the credential, a deadline and the mapping."""

    def __init__(self, channel: grpc.aio.Channel, operator_token: str) -> None:
        self.admin = pb_grpc.OrgAdminStub(channel)
        self.directory = pb_grpc.DirectoryStub(channel)
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {operator_token}"),) if operator_token else ()
        )

    async def call(self, rpc: Callable[..., Awaitable[_Resp]], request: Any) -> _Resp:
        with calling():
            return await rpc(request, timeout=TIMEOUT_SECONDS, metadata=self._metadata)
