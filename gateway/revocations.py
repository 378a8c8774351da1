"""Push-based key revocation: follow every org's key revocations, drop revoked keys.

The gateway watches `Events.WatchAllEvents` and drops a key from the cache the
moment its `key.revoked` event arrives. When the stream breaks (an identity
service restart), it reconnects with backoff and resumes each org it has seen
from the last sequence it got, so revocations of those orgs made meanwhile are
replayed. Orgs it has not seen yet are followed from the reconnection on, which
is why, while disconnected, the cache trusts a key for at most
`DISCONNECTED_TRUST_SECONDS` (SPEC §6). Nothing here can stop the gateway from
starting or serving: the watcher only ever logs its failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

import grpc
from aiohttp import web

from gateway.identity_client import credential_metadata, open_channel
from gateway.key_cache import KeyCache
from gateway.keys import KEY_CACHE, SETTINGS
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

DISCONNECTED_TRUST_SECONDS = 2.0
_FIRST_RETRY_SECONDS = 0.2
_MAX_RETRY_SECONDS = 10.0
_REVOKED = "key.revoked"


class RevocationWatcher:
    """Keeps the key cache honest by following the identity service's events."""

    def __init__(self, channel: grpc.aio.Channel, service_token: str, cache: KeyCache) -> None:
        self._stub = pb_grpc.EventsStub(channel)
        self._metadata = credential_metadata(service_token)
        self._cache = cache
        # Last sequence received per org: where to resume after a break.
        self._positions: dict[str, int] = {}
        self.connected = asyncio.Event()
        # The most recent keys dropped, for operators and tests.
        self.dropped: deque[str] = deque(maxlen=100)
        self._outage_reported = False

    @property
    def positions(self) -> dict[str, int]:
        """A copy of the last sequence received per org."""
        return dict(self._positions)

    async def run(self) -> None:
        """Follow the stream forever, reconnecting with backoff; never raises."""
        self._cache.limit_trust(DISCONNECTED_TRUST_SECONDS)
        delay = _FIRST_RETRY_SECONDS
        while True:
            try:
                await self._follow()
                reason = "the stream ended"
            except grpc.aio.AioRpcError as exc:
                reason = f"{exc.code().name}: {exc.details()}"
            except Exception as exc:
                # A dead watcher would silently leave only the TTL between a
                # revocation and its effect: log it and keep going.
                log.exception("revocation watcher: unexpected error")
                reason = repr(exc)
            if self.connected.is_set():
                delay = _FIRST_RETRY_SECONDS
            self._disconnected(reason)
            log.debug("revocation watcher: retrying in %.1fs (%s)", delay, reason)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_RETRY_SECONDS)

    async def _follow(self) -> None:
        # Revocations only: the rest of the log (every write) stays on the server;
        # its position marks keep a resumption from re-reading much of it.
        request = pb.WatchAllEventsRequest(after=self._positions, types=[_REVOKED])
        call = self._stub.WatchAllEvents(request, metadata=self._metadata)
        try:
            # The server sends its initial metadata once it is subscribed; a
            # call that failed instead is done (initial_metadata() does not raise).
            await call.initial_metadata()
            if not call.done():
                self._connected()
            async for event in call:
                self._positions[event.org_id] = event.seq
                if event.type == _REVOKED:
                    self._cache.drop_key(event.resource_id)
                    self.dropped.append(event.resource_id)
                    log.info("dropped revoked key %s of org %s", event.resource_id, event.org_id)
        finally:
            call.cancel()

    def _connected(self) -> None:
        self.connected.set()
        self._outage_reported = False
        self._cache.limit_trust(None)
        log.info("revocation watcher: following key revocations")

    def _disconnected(self, reason: str) -> None:
        self.connected.clear()
        self._cache.limit_trust(DISCONNECTED_TRUST_SECONDS)
        if self._outage_reported:  # one warning per outage, not one per retry
            return
        self._outage_reported = True
        log.warning(
            "revocation watcher: disconnected (%s); trusting cached keys for at most %.0fs",
            reason,
            DISCONNECTED_TRUST_SECONDS,
        )


REVOCATIONS = web.AppKey("revocations", RevocationWatcher)


async def watch_revocations(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: run the watcher beside the app on a channel of its own.

    Its own channel keeps the long-lived stream apart from request traffic.
    """
    settings = app[SETTINGS]
    channel = open_channel(settings)
    watcher = RevocationWatcher(channel, settings.service_token, app[KEY_CACHE])
    app[REVOCATIONS] = watcher
    task = asyncio.create_task(watcher.run(), name="revocation-watcher")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await channel.close()
