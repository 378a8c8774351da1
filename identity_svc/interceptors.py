"""The gRPC boundary: caller authentication, request ids, error mapping.

A caller proves its kind (operator or service) with a bearer token or, under
mutual TLS, with its verified client certificate; `_POLICY` says which kinds
may call which service, and `_Guard._check_caller` alone applies it.

`ERRORS` is the one table from domain errors to gRPC status codes; each
status carries a google.rpc.ErrorInfo whose reason the gateway maps to a
SCIM error. Anything unexpected is logged with its traceback and request id
and answered with a generic INTERNAL.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from identity_api.reasons import Reason
from identity_svc.domain import errors
from identity_svc.message_text import first_nul_field
from identity_svc.metrics import GRPC_HANDLED, GRPC_SECONDS, code_name, split_method
from json_logs import REQUEST_ID_VAR

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Context = grpc.aio.ServicerContext[Any, Any]

log = logging.getLogger(__name__)

ERROR_DOMAIN = "identity.graphos"

ERRORS: dict[type[errors.DomainError], tuple[grpc.StatusCode, Reason]] = {
    errors.NotFound: (grpc.StatusCode.NOT_FOUND, Reason.NOT_FOUND),
    errors.AlreadyExists: (grpc.StatusCode.ALREADY_EXISTS, Reason.UNIQUENESS),
    errors.VersionMismatch: (grpc.StatusCode.ABORTED, Reason.VERSION_MISMATCH),
    errors.InvalidFilter: (grpc.StatusCode.INVALID_ARGUMENT, Reason.INVALID_FILTER),
    errors.InvalidValue: (grpc.StatusCode.INVALID_ARGUMENT, Reason.INVALID_VALUE),
    errors.InvalidPath: (grpc.StatusCode.INVALID_ARGUMENT, Reason.INVALID_PATH),
    errors.NoTarget: (grpc.StatusCode.INVALID_ARGUMENT, Reason.NO_TARGET),
    errors.Mutability: (grpc.StatusCode.INVALID_ARGUMENT, Reason.MUTABILITY),
    errors.InvalidCursor: (grpc.StatusCode.INVALID_ARGUMENT, Reason.INVALID_CURSOR),
    errors.TooMany: (grpc.StatusCode.INVALID_ARGUMENT, Reason.TOO_MANY),
    errors.PermissionDenied: (grpc.StatusCode.PERMISSION_DENIED, Reason.PERMISSION_DENIED),
    errors.FailedPrecondition: (grpc.StatusCode.FAILED_PRECONDITION, Reason.FAILED_PRECONDITION),
    errors.DeprovisioningPaused: (grpc.StatusCode.RESOURCE_EXHAUSTED, Reason.DEPROVISIONING_PAUSED),
}

# The database is down, overloaded or slow: the caller may retry later.
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.TooManyConnectionsError,
    asyncpg.CannotConnectNowError,
    asyncpg.QueryCanceledError,
)

# Postgres refusing a statement over one of its limits (SQLSTATE class 54: an
# index entry over 2,704 bytes, a statement too complex) was asked too much by
# the request, so the caller hears of an invalid value. domain/limits.py
# refuses such values up front, naming them; this catches what slips past it.
_TOO_LARGE = asyncpg.ProgramLimitExceededError

OPERATOR = "operator"
SERVICE = "service"

# Which caller may call which service; unlisted (health, reflection) are open.
_POLICY = {
    "/identity_api.v1.OrgAdmin/": frozenset({OPERATOR}),
    "/identity_api.v1.Provisioning/": frozenset({OPERATOR, SERVICE}),
    "/identity_api.v1.Directory/": frozenset({OPERATOR, SERVICE}),
    "/identity_api.v1.Events/": frozenset({OPERATOR, SERVICE}),
}


def _status_for(exc: errors.DomainError) -> grpc.Status:
    code, reason = ERRORS[type(exc)]
    metadata: dict[str, str] = {}
    if isinstance(exc, errors.AlreadyExists):
        metadata["field"] = exc.field
    if isinstance(exc, errors.DeprovisioningPaused):
        metadata["retry_after_seconds"] = str(exc.retry_after_seconds)
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata))
    status: grpc.Status = rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=str(exc), details=[detail])
    )
    return status


def _request_id(metadata: Any) -> str:
    """The caller's x-request-id, or "" when it sent none."""
    for key, value in metadata or ():
        if key == "x-request-id" and isinstance(value, str) and value:
            return value[:128]
    return ""


class Callers:
    """How callers prove their kind: bearer tokens and verified certificates.

    Either method suffices unless `require_mtls`, when tokens are ignored.
    """

    def __init__(
        self,
        tokens: Mapping[str, str],
        certificates: Mapping[str, str] | None = None,
        *,
        require_mtls: bool = False,
    ) -> None:
        """`tokens` and `certificates` (names) each map to a caller kind."""
        self._tokens = {t: kind for t, kind in tokens.items() if t}
        self._certificates = dict(certificates or {})
        self._require_mtls = require_mtls

    def kinds(self, context: Context) -> set[str]:
        """Every kind the caller of this call has proven."""
        kinds = self._certificate_kinds(context.auth_context())
        if not self._require_mtls:
            kinds |= self._token_kinds(context.invocation_metadata())
        return kinds

    def _certificate_kinds(self, auth: Mapping[str, Iterable[bytes]]) -> set[str]:
        # The TLS handshake already verified the chain against the client CA,
        # so these names are the peer's own. `peer_dns` holds only the DNS
        # SANs (`x509_subject_alternative_name` mixes in URIs, emails, IPs).
        names = [*auth.get("x509_common_name", ()), *auth.get("peer_dns", ())]
        return {
            kind
            for name in names
            if (kind := self._certificates.get(name.decode(errors="replace")))
        }

    def _token_kinds(self, metadata: Any) -> set[str]:
        presented = ""
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str):
                presented = value.removeprefix("Bearer ").strip()
        # Compare with every token, in constant time, so timing tells nothing.
        return {
            kind
            for token, kind in self._tokens.items()
            if hmac.compare_digest(presented.encode(), token.encode())
        }


def _kinds_allowed(method: str) -> frozenset[str] | None:
    """The caller kinds that may call `method`; None if anyone may."""
    for prefix, kinds in _POLICY.items():
        if method.startswith(prefix):
            return kinds
    return None


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, callers: Callers) -> None:
        self._callers = callers
        # Each method's guarded handler, made on its first call: made anew on
        # every call, it cost more than most calls' own work. This interceptor
        # is the innermost one, so nothing is skipped by not continuing.
        self._guarded: dict[str, Handler] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        guarded = self._guarded.get(details.method)
        if guarded is not None:
            return guarded
        handler = await continuation(details)
        if handler is None:
            return None
        guard = _Guard(details.method, self._callers, _kinds_allowed(details.method))
        if handler.unary_unary:
            guarded = grpc.unary_unary_rpc_method_handler(
                guard.unary(handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        elif handler.unary_stream:
            guarded = grpc.unary_stream_rpc_method_handler(
                guard.stream(handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        else:
            return handler
        self._guarded[details.method] = guarded
        return guarded


def _refuse_nul(request: Any) -> None:
    field = first_nul_field(request)
    if field:
        raise errors.InvalidValue(f"{field} contains a NUL character, which text cannot hold here")


class _Guard:
    """Wraps every call of one method: refuses unauthenticated callers, maps errors."""

    def __init__(self, method: str, callers: Callers, allowed: frozenset[str] | None) -> None:
        self.method = method
        self.callers = callers
        # Caller kinds that may make this call; None: anyone (health, reflection).
        self.allowed = allowed
        service, name = split_method(method)
        self._seconds = GRPC_SECONDS.labels(service, name)
        self._handled = functools.partial(GRPC_HANDLED.labels, service, name)

    async def _fail(self, context: Context, exc: Exception) -> None:
        request_id = REQUEST_ID_VAR.get()
        if isinstance(exc, _TOO_LARGE):
            log.warning(
                "over a database limit in %s [request %s]: %s", self.method, request_id, exc
            )
            exc = errors.InvalidValue("a value is too large to be stored")
        if isinstance(exc, errors.DomainError):
            status = _status_for(exc)
            await context.abort(status.code, status.details, status.trailing_metadata)
        if isinstance(exc, _UNAVAILABLE):
            log.warning("database unavailable in %s [request %s]: %r", self.method, request_id, exc)
            await context.abort(grpc.StatusCode.UNAVAILABLE, "the identity store is unavailable")
        log.error("unexpected error in %s [request %s]", self.method, request_id, exc_info=exc)
        await context.abort(grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})")

    async def _check_caller(self, context: Context) -> None:
        """The one place that decides whether this caller may make this call.

        It runs inside the call because the peer's certificate is only known
        there (`auth_context()`), not in `intercept_service`.
        """
        if self.allowed is not None and not self.callers.kinds(context) & self.allowed:
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "a valid caller credential is required"
            )

    def _begin(self, request: Any, context: Context) -> float:
        """Log lines of this call carry its request id: metadata, else RequestContext."""
        request_id = _request_id(context.invocation_metadata())
        if not request_id:
            # Made up here when the caller sent none anywhere.
            context_id = getattr(getattr(request, "context", None), "request_id", "")
            request_id = context_id or uuid.uuid4().hex
        REQUEST_ID_VAR.set(request_id)
        return time.perf_counter()

    def _measure(self, context: Context, start: float, code: str | None = None) -> None:
        self._seconds.observe(time.perf_counter() - start)
        self._handled(code or code_name(context.code())).inc()

    def unary(self, behavior: Any) -> Any:
        async def call(request: Any, context: Context) -> Any:
            start = self._begin(request, context)
            code = None
            try:
                await self._check_caller(context)
                _refuse_nul(request)
                return await behavior(request, context)
            except grpc.aio.AbortError:
                raise
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except Exception as exc:
                await self._fail(context, exc)
            finally:
                self._measure(context, start, code)

        return call

    def stream(self, behavior: Any) -> Any:
        async def call(request: Any, context: Context) -> AsyncIterator[Any]:
            start = self._begin(request, context)
            code = None
            try:
                await self._check_caller(context)
                _refuse_nul(request)
                async for item in behavior(request, context):
                    yield item
            except grpc.aio.AbortError:
                raise
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except Exception as exc:
                await self._fail(context, exc)
            finally:
                self._measure(context, start, code)

        return call
