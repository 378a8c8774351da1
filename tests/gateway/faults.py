"""Faults put into the real path, for the failure tests (SPEC §7).

`Faults` is a server interceptor, outermost around the identity service's own:
it counts calls by method and holds the calls of chosen methods before they
reach a servicer (a held stream sends no metadata, a held call never answers).
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc


class Faults(grpc.aio.ServerInterceptor):
    def __init__(self, hold: Iterable[str] = ()) -> None:
        """Calls of the methods named in `hold` ("VerifyScimKey") never proceed."""
        self.hold = frozenset(hold)
        self.calls: Counter[str] = Counter()
        self._seen: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)

    async def seen(self, method: str) -> None:
        """Return once `method` has been called."""
        await self._seen[method].wait()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        details: grpc.HandlerCallDetails,
    ) -> Any:
        method = details.method.rsplit("/", 1)[-1]
        self.calls[method] += 1
        self._seen[method].set()
        if method in self.hold:
            await asyncio.Event().wait()  # until the server stops and cancels the call
        return await continuation(details)
