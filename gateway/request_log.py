"""The request log (issue 12): every SCIM request of an org, sent to the identity service.

The middleware notes each answer under /scim/v2/{org}/ — refusals (401, 429)
included, so an admin sees "Okta's key is wrong" — in a bounded in-memory
queue; a background task sends the queue in batches (Provisioning.
RecordRequests) every `request_log_flush_seconds`, or as soon as a batch is
full. Recording never fails or waits for a SCIM request: when the queue is
full or a batch cannot be sent, entries are dropped and counted in
`scim_request_log_dropped_total`. The token is never recorded; a failure's
body is masked first (gateway/masking.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web
from google.protobuf import timestamp_pb2

from gateway.auth import KEY_ID
from gateway.identity_client import IdentityClient
from gateway.keys import IDENTITY, SETTINGS
from gateway.masking import masked_body
from gateway.metrics import METRICS, GatewayMetrics, idp_class, route_template
from gateway.responses import REQUEST_ID, Handler
from gateway.routes import ORG
from identity_api.v1 import identity_pb2 as pb

log = logging.getLogger(__name__)

# "/scim/v2/": what precedes every org's URLs.
SCIM_PREFIX = ORG.removesuffix("{org}")
# Bounds what one entry holds in memory here; the identity service keeps less.
_FIELD_CHARS = 2048
# A batch that cannot be sent within this long at shutdown is dropped.
_FINAL_FLUSH_SECONDS = 2.0
# A batch of failures, each with a 4 KiB body, stays well inside a gRPC message.
_BATCH_BYTES = 1 << 20


class RequestRecorder:
    """A bounded queue of entries and the batches it sends."""

    def __init__(
        self,
        identity: IdentityClient,
        metrics: GatewayMetrics,
        *,
        queue_max: int,
        batch: int,
        flush_seconds: float,
    ) -> None:
        self._identity = identity
        self._dropped = metrics.request_log_dropped
        self._queue_max = queue_max
        self._batch = batch
        self._flush_seconds = flush_seconds
        self._pending: list[pb.RequestLogEntry] = []
        self._batch_ready = asyncio.Event()
        # One flush at a time, so a flush returns once all queued before it is sent.
        self._flushing = asyncio.Lock()
        self._failing = False
        self._task: asyncio.Task[None] | None = None

    def record(self, entry: pb.RequestLogEntry) -> None:
        """Queue an entry, or drop and count it when the queue is full; never blocks."""
        if len(self._pending) >= self._queue_max:
            self._dropped.labels("queue_full").inc()
            return
        self._pending.append(entry)
        if len(self._pending) >= self._batch:
            self._batch_ready.set()

    async def flush(self) -> None:
        """Send everything queued so far, a batch at a time."""
        async with self._flushing:
            while self._pending:
                batch = self._next_batch()
                try:
                    await self._send(batch)
                except asyncio.CancelledError:
                    self._pending[:0] = batch  # not sent: close() counts it
                    raise

    def start(self) -> None:
        """Flush in the background: on a timer, or as soon as a batch is full."""
        self._task = asyncio.create_task(self._run(), name="request-log")

    async def close(self) -> None:
        """Send what is queued (waiting for a flush under way) within a bound; count the rest."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_FINAL_FLUSH_SECONDS):
                await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pending:
            self._dropped.labels("unsent").inc(len(self._pending))
            self._pending.clear()

    def _next_batch(self) -> list[pb.RequestLogEntry]:
        """The oldest entries: at most `batch` of them, and far below gRPC's 4 MiB limit."""
        size, count = 0, 0
        for entry in self._pending[: self._batch]:
            size += entry.ByteSize()
            if count and size > _BATCH_BYTES:
                break
            count += 1
        batch, self._pending = self._pending[:count], self._pending[count:]
        return batch

    async def _send(self, batch: list[pb.RequestLogEntry]) -> None:
        request = pb.RecordRequestsRequest(entries=batch)
        try:
            await self._identity.record_requests(request, f"request-log-{uuid.uuid4().hex}")
        except Exception as exc:  # ScimError (503), an unmapped RPC error: the batch is lost
            self._dropped.labels("unsent").inc(len(batch))
            if not self._failing:  # one warning per outage, not one per batch
                log.warning(
                    "request log: dropping entries the identity service did not take: %r", exc
                )
            self._failing = True
            return
        if self._failing:
            log.info("request log: recording again")
        self._failing = False

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_seconds):
                    await self._batch_ready.wait()
            self._batch_ready.clear()
            await self.flush()


REQUEST_LOG = web.AppKey("request_log", RequestRecorder)


def _clean(value: str) -> str:
    # Postgres text holds no NUL (a URL's %00 decodes to one).
    return value.replace("\x00", "\ufffd")


def _text(value: str) -> str:
    return _clean(value)[:_FIELD_CHARS]


def _error(response: web.StreamResponse) -> tuple[str, str]:
    """(scimType, detail) of an error answer, as gateway/responses.py rendered it."""
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes):
        return "", ""
    try:
        error: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return "", ""
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("scimType", "")), str(error.get("detail", ""))


async def _body(request: web.Request) -> bytes:
    """The body if the handler read it (then it is at hand); never reads an unread one."""
    if request.body_exists and not request.can_read_body:
        return await request.read()
    return b""


async def _entry(
    request: web.Request,
    response: web.StreamResponse,
    org_id: str,
    started_ns: int,
    latency_ms: float,
) -> pb.RequestLogEntry:
    started = timestamp_pb2.Timestamp()
    started.FromMicroseconds(started_ns // 1000)  # Postgres keeps microseconds
    entry = pb.RequestLogEntry(
        org_id=_text(org_id),
        time=started,
        method=_text(request.method),
        route=route_template(request).removeprefix(ORG),
        resource_id=_text(request.match_info.get("id", "")),
        status=response.status,
        latency_ms=latency_ms,
        idp=idp_class(request.headers.get("User-Agent", "")),
        key_id=request.get(KEY_ID, ""),
        request_id=request.get(REQUEST_ID, ""),
    )
    if response.status >= 400:
        scim_type, detail = _error(response)
        entry.scim_type, entry.error_detail = _text(scim_type), _text(detail)
        entry.masked_body = _clean(masked_body(await _body(request)))  # cut to 4 KiB there
    return entry


def _org_of(request: web.Request) -> str | None:
    """The org a SCIM URL names, matched or not (an unknown path is recorded too)."""
    if not request.path.startswith(SCIM_PREFIX):
        return None
    org = request.match_info.get("org") or request.path[len(SCIM_PREFIX) :].split("/", 1)[0]
    return org or None


@web.middleware
async def request_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outside the error middleware: it sees every answer as the client gets it."""
    org_id = _org_of(request)
    if org_id is None:
        return await handler(request)
    started_ns, start = time.time_ns(), time.perf_counter()
    response = await handler(request)
    latency_ms = (time.perf_counter() - start) * 1000
    try:
        entry = await _entry(request, response, org_id, started_ns, latency_ms)
        request.app[REQUEST_LOG].record(entry)
    except Exception:  # the log must never cost the client its answer
        log.exception("request log: could not record a request")
        request.app[METRICS].request_log_dropped.labels("error").inc()
    return response


async def record_requests(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the recorder and its flushing task; a last flush at shutdown."""
    settings = app[SETTINGS]
    recorder = RequestRecorder(
        app[IDENTITY],
        app[METRICS],
        queue_max=settings.request_log_queue_max,
        batch=settings.request_log_batch,
        flush_seconds=settings.request_log_flush_seconds,
    )
    app[REQUEST_LOG] = recorder
    recorder.start()
    yield
    await recorder.close()
