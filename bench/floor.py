"""`python -m bench.floor`: the CPU the frameworks cost before any of our code runs.

A bare grpc.aio unary call (an echo servicer, uvloop on both sides) and a
hello-world aiohttp handler, each driven 16 in flight from another process;
CPU time per call of each process. These bound from below what any request of
ours can cost: a GET by id is one HTTP request, one gRPC call and one query.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from multiprocessing.queues import Queue
from typing import Any

import aiohttp
import grpc
import uvloop
from aiohttp import web

from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc

CALLS = 20_000
IN_FLIGHT = 16


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


async def _get_user(request: pb.GetUserRequest, context: Any) -> pb.User:
    return pb.User(id=request.user_id, document_json=b'{"userName":"a@b.test"}')


async def _grpc_server(port: Queue[int]) -> Callable[[], Awaitable[None]]:
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        _get_user,
        request_deserializer=pb.GetUserRequest.FromString,
        response_serializer=pb.User.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("identity_api.v1.Provisioning", {"GetUser": handler})]
    )
    port.put(server.add_insecure_port("127.0.0.1:0"))
    await server.start()
    return lambda: server.stop(0)


async def _http_server(port: Queue[int]) -> Callable[[], Awaitable[None]]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=b'{"id":"x"}', content_type="application/scim+json")

    app = web.Application()
    app.router.add_get("/Users/{id}", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port.put(runner.addresses[0][1])
    return runner.cleanup


def _serve(kind: str, port: Queue[int], marks: Queue[None], cpu: Queue[float]) -> None:
    async def main() -> None:
        stop = await (_grpc_server if kind == "grpc" else _http_server)(port)
        loop = asyncio.get_running_loop()
        for _ in range(2):  # CPU at the start and at the end of the measured calls
            await loop.run_in_executor(None, marks.get)
            cpu.put(_cpu())
        await stop()

    uvloop.run(main())


async def _drive(call: Callable[[], Awaitable[object]], calls: int) -> None:
    left = calls

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call()

    await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))


async def _grpc_client(port: int, measure: Callable[[Callable[[], Awaitable[object]]], Any]) -> Any:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = pb_grpc.ProvisioningStub(channel)
        return await measure(lambda: stub.GetUser(pb.GetUserRequest(user_id="x")))


async def _http_client(port: int, measure: Callable[[Callable[[], Awaitable[object]]], Any]) -> Any:
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get() -> bytes:
            async with session.get(f"http://127.0.0.1:{port}/Users/x") as response:
                return await response.read()

        return await measure(get)


def _floor(kind: str) -> tuple[float, float]:
    """(client, server) CPU ms per call."""
    port: Queue[int] = multiprocessing.Queue()
    marks: Queue[None] = multiprocessing.Queue()
    cpu: Queue[float] = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(kind, port, marks, cpu))
    server.start()
    address = port.get()

    async def measure(call: Callable[[], Awaitable[object]]) -> tuple[float, float]:
        await _drive(call, 500)  # warm: connections up, caches filled
        marks.put(None)
        server_start, client_start = cpu.get(), _cpu()
        await _drive(call, CALLS)
        client = _cpu() - client_start
        marks.put(None)
        return client, cpu.get() - server_start

    client = _grpc_client if kind == "grpc" else _http_client
    client_cpu, server_cpu = uvloop.run(client(address, measure))
    server.join()
    return client_cpu / CALLS * 1000, server_cpu / CALLS * 1000


def main() -> None:
    grpc_client, grpc_server = _floor("grpc")
    _, http_server = _floor("http")
    print(f"grpc.aio unary call: client {grpc_client:.2f} ms, server {grpc_server:.2f} ms CPU")
    print(f"aiohttp hello world: server {http_server:.2f} ms CPU per request")


if __name__ == "__main__":
    main()
