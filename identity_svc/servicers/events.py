"""Events RPCs: the change log as server streams (SPEC §6)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import asyncpg
import grpc
from google.protobuf import struct_pb2, timestamp_pb2

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc
from identity_svc.db.events import Event
from identity_svc.events_hub import EventHub
from identity_svc.services import event_streams

if TYPE_CHECKING:
    Ctx = grpc.aio.ServicerContext[Any, Any]


def event_to_proto(event: Event) -> pb.Event:
    occurred_at = timestamp_pb2.Timestamp()
    occurred_at.FromDatetime(event.occurred_at)
    data = struct_pb2.Struct()
    data.update(event.data)
    return pb.Event(
        org_id=event.org_id,
        seq=event.seq,
        type=event.type,
        resource_type=event.resource_type,
        resource_id=event.resource_id,
        actor=event.actor,
        request_id=event.request_id,
        occurred_at=occurred_at,
        data=data,
    )


def _ready(context: Ctx) -> event_streams.Ready:
    # Initial metadata tells the caller the stream is subscribed: from here on
    # nothing is missed, even before the first event arrives.
    async def ready() -> None:
        await context.send_initial_metadata(())

    return ready


class EventsServicer(pb_grpc.EventsServicer):
    def __init__(self, pool: asyncpg.Pool, hub: EventHub) -> None:
        self._pool = pool
        self._hub = hub

    async def WatchEvents(
        self, request: pb.WatchEventsRequest, context: Ctx
    ) -> AsyncIterator[pb.Event]:
        events = event_streams.watch_org(
            self._pool,
            self._hub,
            request.org_id,
            request.after_seq,
            request.follow,
            on_ready=_ready(context),
        )
        async for event in events:
            yield event_to_proto(event)

    async def WatchAllEvents(
        self, request: pb.WatchAllEventsRequest, context: Ctx
    ) -> AsyncIterator[pb.Event]:
        events = event_streams.watch_all(
            self._pool, self._hub, dict(request.after), request.types, on_ready=_ready(context)
        )
        async for event in events:
            if isinstance(event, event_streams.Mark):
                yield pb.Event(org_id=event.org_id, seq=event.seq)
            else:
                yield event_to_proto(event)
