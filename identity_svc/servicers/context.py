"""What servicers read from a call besides its request message."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import grpc

from identity_api.v1 import identity_pb2 as pb
from identity_svc.convert import write_context
from identity_svc.domain.models import WriteContext

if TYPE_CHECKING:
    Ctx = grpc.aio.ServicerContext[Any, Any]


def request_id(context: Ctx) -> str:
    for key, value in context.invocation_metadata() or ():
        if key == "x-request-id" and isinstance(value, str) and value:
            return value[:128]
    return uuid.uuid4().hex


def writer(message: pb.RequestContext, context: Ctx) -> WriteContext:
    return write_context(message, request_id(context))


def expected(request: object) -> int | None:
    """The If-Match version of a write request, if it carries one."""
    if request.HasField("expected_version"):  # type: ignore[attr-defined]
        return int(request.expected_version)  # type: ignore[attr-defined]
    return None
