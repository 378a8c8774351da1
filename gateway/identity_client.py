"""The gateway's one way to the identity service.

Every call carries the service credential, the request id and a deadline.
`open_channel()` is the one way a channel to it is made (TLS when configured).
`map_rpc_errors()` is the only translation of gRPC failures into SCIM errors:
it reads the status code and the google.rpc.ErrorInfo reason.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, TypeVar

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from gateway import errors
from identity_api.client_tls import aio_channel
from identity_api.reasons import Reason
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc

if TYPE_CHECKING:
    from gateway.metrics import GatewayMetrics
    from gateway.settings import Settings

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")

# Keyed by str, which a Reason is, so the ErrorInfo's reason looks itself up.
BY_REASON: dict[str, type[errors.ScimError]] = {
    Reason.NOT_FOUND: errors.NotFound,
    Reason.UNIQUENESS: errors.Conflict,
    Reason.VERSION_MISMATCH: errors.PreconditionFailed,
    Reason.INVALID_FILTER: errors.InvalidFilter,
    Reason.INVALID_VALUE: errors.InvalidValue,
    Reason.INVALID_PATH: errors.InvalidPath,
    Reason.NO_TARGET: errors.NoTarget,
    Reason.MUTABILITY: errors.Mutability,
    Reason.INVALID_CURSOR: errors.InvalidCursor,
    Reason.TOO_MANY: errors.TooMany,
    Reason.PERMISSION_DENIED: errors.Forbidden,
    Reason.DEPROVISIONING_PAUSED: errors.TooManyRequests,
}

# Reasons a Provisioning call should never bring: received, they are a bug and
# answer 500 (the error middleware logs them). FAILED_PRECONDITION is only
# raised by OrgAdmin key creation (an org without SSO), never by SCIM calls.
UNEXPECTED: frozenset[Reason] = frozenset({Reason.FAILED_PRECONDITION})

# CANCELLED too: a call that reaches the identity service as it stops is
# cancelled there before it runs (our own cancellations never get an answer);
# like a deadline, it is a retry away: each call is one transaction.
_UNAVAILABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}


def open_channel(settings: Settings) -> grpc.aio.Channel:
    """A channel to the identity service: TLS, mutual with a client certificate, if set."""
    return aio_channel(settings.identity_addr, settings.identity_tls)


def credential_metadata(service_token: str) -> tuple[tuple[str, str], ...]:
    """The bearer credential, if any: under mutual TLS the certificate may suffice."""
    return (("authorization", f"Bearer {service_token}"),) if service_token else ()


def _error_info(exc: grpc.aio.AioRpcError) -> error_details_pb2.ErrorInfo:
    status = rpc_status.from_call(exc)
    for detail in status.details if status else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    return error_details_pb2.ErrorInfo()


@contextmanager
def map_rpc_errors() -> Iterator[None]:
    """Re-raise identity service failures as the SCIM error they mean."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        if exc.code() in _UNAVAILABLE:
            raise errors.ServiceUnavailable(
                "the identity service is unavailable; retry later",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            ) from exc
        info = _error_info(exc)
        error = BY_REASON.get(info.reason)
        if error is None:
            raise  # a bug or misconfiguration: the error middleware logs it, answers 500
        # The identity service says how long a refusal lasts (the deprovisioning brake).
        wait = info.metadata.get("retry_after_seconds")
        headers = {"Retry-After": wait} if wait else None
        raise error(exc.details() or error.__name__, headers=headers) from exc


class IdentityClient:
    """The Provisioning RPCs the gateway uses, one typed method each.

    Each goes through `_unary` or `_stream`, which add the credential, the
    request id and the deadline, count the call and map its failures: a new
    RPC is one method naming its stub attribute, nothing more.
    """

    def __init__(
        self, channel: grpc.aio.Channel, settings: Settings, metrics: GatewayMetrics | None = None
    ) -> None:
        self.channel = channel
        self._stub = pb_grpc.ProvisioningStub(channel)
        # The stub holds one callable per RPC under the RPC's name, the name
        # metrics label calls with: read here, so no method is named twice.
        self._names: dict[object, str] = {rpc: name for name, rpc in vars(self._stub).items()}
        self._metrics = metrics
        self._token = settings.service_token
        self._timeout = settings.identity_timeout_seconds

    async def verify_scim_key(
        self, request: pb.VerifyScimKeyRequest, request_id: str
    ) -> pb.VerifyScimKeyResponse:
        return await self._unary(self._stub.VerifyScimKey, request, request_id)

    async def record_requests(
        self, request: pb.RecordRequestsRequest, request_id: str
    ) -> pb.RecordRequestsResponse:
        return await self._unary(self._stub.RecordRequests, request, request_id)

    async def create_user(self, request: pb.CreateUserRequest, request_id: str) -> pb.User:
        return await self._unary(self._stub.CreateUser, request, request_id)

    async def get_user(self, request: pb.GetUserRequest, request_id: str) -> pb.User:
        return await self._unary(self._stub.GetUser, request, request_id)

    async def replace_user(self, request: pb.ReplaceUserRequest, request_id: str) -> pb.User:
        return await self._unary(self._stub.ReplaceUser, request, request_id)

    async def patch_user(self, request: pb.PatchUserRequest, request_id: str) -> pb.User:
        return await self._unary(self._stub.PatchUser, request, request_id)

    async def delete_user(
        self, request: pb.DeleteUserRequest, request_id: str
    ) -> pb.DeleteResponse:
        return await self._unary(self._stub.DeleteUser, request, request_id)

    def stream_users(
        self, request: pb.ListUsersRequest, request_id: str
    ) -> AsyncIterator[pb.UserPageChunk]:
        return self._stream(self._stub.StreamUsers, request, request_id)

    async def create_group(self, request: pb.CreateGroupRequest, request_id: str) -> pb.Group:
        return await self._unary(self._stub.CreateGroup, request, request_id)

    async def get_group(self, request: pb.GetGroupRequest, request_id: str) -> pb.Group:
        return await self._unary(self._stub.GetGroup, request, request_id)

    async def replace_group(self, request: pb.ReplaceGroupRequest, request_id: str) -> pb.Group:
        return await self._unary(self._stub.ReplaceGroup, request, request_id)

    async def patch_group(self, request: pb.PatchGroupRequest, request_id: str) -> pb.Group:
        return await self._unary(self._stub.PatchGroup, request, request_id)

    async def delete_group(
        self, request: pb.DeleteGroupRequest, request_id: str
    ) -> pb.DeleteResponse:
        return await self._unary(self._stub.DeleteGroup, request, request_id)

    async def list_group_members(
        self, request: pb.ListGroupMembersRequest, request_id: str
    ) -> pb.ListGroupMembersResponse:
        return await self._unary(self._stub.ListGroupMembers, request, request_id)

    def stream_groups(
        self, request: pb.ListGroupsRequest, request_id: str
    ) -> AsyncIterator[pb.GroupPageChunk]:
        return self._stream(self._stub.StreamGroups, request, request_id)

    async def _unary(
        self,
        rpc: grpc.aio.UnaryUnaryMultiCallable[_Request, _Response],
        request: _Request,
        request_id: str,
    ) -> _Response:
        """One call of `rpc`, failures mapped to SCIM errors."""
        with map_rpc_errors(), self._measured(rpc):
            return await rpc(request, metadata=self._metadata(request_id), timeout=self._timeout)

    async def _stream(
        self,
        rpc: grpc.aio.UnaryStreamMultiCallable[_Request, _Response],
        request: _Request,
        request_id: str,
    ) -> AsyncIterator[_Response]:
        """The messages of the server-streaming `rpc`, failures mapped."""
        with map_rpc_errors(), self._measured(rpc):
            call = rpc(request, metadata=self._metadata(request_id), timeout=self._timeout)
            try:
                async for message in call:
                    yield message
            finally:
                call.cancel()  # a no-op once it ended; frees it if the reader stopped early

    def _metadata(self, request_id: str) -> tuple[tuple[str, str], ...]:
        return (*credential_metadata(self._token), ("x-request-id", request_id))

    def _measured(self, rpc: object) -> AbstractContextManager[None]:
        return self._metrics.rpc(self._names[rpc]) if self._metrics else nullcontext()
