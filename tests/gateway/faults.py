"""Faults put into the real path, for the failure tests (SPEC §7).

`Faults` is a server interceptor, outermost around the identity service's own:
it counts calls by method and holds the calls of chosen methods before they
reach a servicer (a held stream sends no metadata, a held call never answers).
`PgProxy` is a TCP hop between a pool and the real Postgres that a test cuts,
as when the database goes away, and restores.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

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


class PgProxy:
    """127.0.0.1:port, forwarded to the Postgres of `dsn`; `dsn` of the proxy is `.dsn`."""

    def __init__(self, upstream_dsn: str) -> None:
        parts = urlsplit(upstream_dsn)
        query = dict(parse_qsl(parts.query))
        self._host = query.pop("host", parts.hostname or "localhost")
        self._port = int(query.pop("port", parts.port or 5432))
        self._user = parts.netloc.rpartition("@")[0]
        self._path = parts.path
        self._query = urlencode(query)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def dsn(self) -> str:
        query = f"?{self._query}" if self._query else ""
        return f"postgresql://{self._user}@127.0.0.1:{self.port}{self._path}{query}"

    async def start(self) -> None:
        """Listen (again, on the same port once it has one)."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Reset every connection through the proxy and refuse new ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.transport.abort()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._host.startswith("/"):  # a unix socket directory
            return await asyncio.open_unix_connection(f"{self._host}/.s.PGSQL.{self._port}")
        return await asyncio.open_connection(self._host, self._port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await self._open_upstream()
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            pipe = asyncio.create_task(_pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()
