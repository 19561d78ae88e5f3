"""A lean HTTP/1.1 load client: raw keep-alive connections, requests built once, nothing parsed
but the status line and Content-Length. httpx tops out near 360 requests/s on this machine, far
below what the server under test should reach, so it cannot measure it.

`run_closed` sends as fast as `connections` connections answer; `run_open` sends on a fixed
schedule (open loop, no coordinated omission: latency counts from the scheduled time). Either can
be split over several processes (`processes=`) when one process is the limit; `client_ceiling`
measures what the client reaches against a server that answers at once.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Result", "client_ceiling", "run_closed", "run_open", "serve_null"]

Body = Callable[[int], dict[str, Any]]


@dataclass
class Result:
    sent: int = 0
    accepted: int = 0  # 2xx
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    def merge(self, other: Result) -> None:
        self.sent += other.sent
        self.accepted += other.accepted
        self.seconds = max(self.seconds, other.seconds)
        self.latencies += other.latencies


def request_bytes(host: str, port: int, path: str, token: str, body: dict[str, Any]) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def exchange(self, request: bytes) -> int:
        """Send one request, read its whole response; the status code."""
        self.writer.write(request)
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        if length:
            await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    path: str
    token: str


async def _closed(target: Target, body: Body, numbers: Sequence[int], connections: int) -> Result:
    result = Result()
    queue = iter(numbers)
    pool = [await Connection.open(target.host, target.port) for _ in range(connections)]

    async def drive(connection: Connection) -> None:
        for number in queue:
            request = request_bytes(target.host, target.port, target.path, target.token, body(number))
            status = await connection.exchange(request)
            result.sent += 1
            result.accepted += 200 <= status < 300

    started = time.perf_counter()
    await asyncio.gather(*(drive(c) for c in pool))
    result.seconds = time.perf_counter() - started
    for connection in pool:
        connection.close()
    return result


async def _open(target: Target, body: Body, numbers: Sequence[int], rate: float, connections: int) -> Result:
    result = Result()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(await Connection.open(target.host, target.port))
    requests = [request_bytes(target.host, target.port, target.path, target.token, body(n)) for n in numbers]

    async def one(index: int, scheduled: float) -> None:
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        connection = await idle.get()
        status = await connection.exchange(requests[index])
        result.latencies.append(time.perf_counter() - scheduled)
        result.sent += 1
        result.accepted += 200 <= status < 300
        idle.put_nowait(connection)

    start = time.perf_counter() + 0.2
    await asyncio.gather(*(one(i, start + i / rate) for i in range(len(requests))))
    result.seconds = time.perf_counter() - start
    while not idle.empty():
        idle.get_nowait().close()
    return result


def _in_process(job: tuple[str, Target, Body, Sequence[int], float, int]) -> Result:
    kind, target, body, numbers, rate, connections = job
    if kind == "closed":
        return asyncio.run(_closed(target, body, numbers, connections))
    return asyncio.run(_open(target, body, numbers, rate, connections))


def _split(job: tuple[str, Target, Body, Sequence[int], float, int], processes: int) -> Result:
    kind, target, body, numbers, rate, connections = job
    parts = [
        (kind, target, body, numbers[i::processes], rate / processes, max(1, connections // processes))
        for i in range(processes)
    ]
    total = Result()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for part in pool.map(_in_process, parts):
            total.merge(part)
    return total


def run_closed(
    target: Target, body: Body, count: int, *, connections: int = 32, processes: int = 1
) -> Result:
    return _split(("closed", target, body, range(count), 0.0, connections), processes)


def run_open(
    target: Target, body: Body, rate: float, seconds: float, *, connections: int = 64, processes: int = 1
) -> Result:
    return _split(("open", target, body, range(int(rate * seconds)), rate, connections), processes)


# --- the client's ceiling: a server that answers at once ---------------------------------------

_NULL_RESPONSE = (
    b'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id":"0"}\n'
)


async def _null_server(port_out: Any) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            if not line:
                break
            await reader.readexactly(length)
            writer.write(_NULL_RESPONSE)
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port_out.send(server.sockets[0].getsockname()[1])
    await server.serve_forever()


def _null_main(port_out: Any) -> None:
    asyncio.run(_null_server(port_out))


def serve_null() -> tuple[multiprocessing.process.BaseProcess, int]:
    """A server that answers 202 to everything, in its own process; and its port."""
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    process = multiprocessing.get_context("fork").Process(target=_null_main, args=(send,), daemon=True)
    process.start()
    return process, int(receive.recv())


def client_ceiling(body: Body, count: int, *, connections: int = 32, processes: int = 1) -> Result:
    process, port = serve_null()
    try:
        return run_closed(
            Target("127.0.0.1", port, "/api/v1/events", "x"),
            body,
            count,
            connections=connections,
            processes=processes,
        )
    finally:
        process.kill()
        process.join()
