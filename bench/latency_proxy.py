"""An HTTP proxy that adds a fixed latency to every response, and records when each one started.

HTTP/1.1 without pipelining (what botocore speaks) alternates on a connection: the client
sends a request, the server answers. The proxy holds the first bytes of every response
(an interim `100 Continue` included) back `latency` seconds, counting one request, and
forwards everything else untouched. A request therefore costs one added round trip, and
requests on different connections (concurrent ones) overlap their delays, as on a real
network. Connection set-up is not delayed.

Keep-alive, as S3 keeps it: moto's server (werkzeug) closes the connection after every
response, which would make a client open a new connection per request. The proxy keeps the
client's connection open instead (it drops werkzeug's `Connection: close` from a response
whose length it knows) and opens a new upstream connection for each request, so a client
that pools its connections reconnects no more often here than it would against S3, and
`connects` shows when it does.

Each delayed response is recorded as the time.monotonic() when it was held (`held`), beside
the time its request's last bytes before it reached the proxy began (`sent`, same index),
and each new client connection as the time it was accepted (`connects`): the monotonic
clock is system-wide on Linux, so a child process's run windows can be matched against them.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field

CHUNK = 1 << 16


@dataclass
class LatencyProxy:
    """One listening port in front of `upstream`; `latency` seconds added to every response."""

    upstream: tuple[str, int]
    latency: float
    port: int = 0
    held: list[float] = field(default_factory=list)  # monotonic time each response was held at
    sent: list[float] = field(default_factory=list)  # when that response's request began (same index)
    connects: list[float] = field(default_factory=list)  # when each client connection was accepted
    lines: list[str] = field(default_factory=list)  # each response's request line (same index as held)

    async def start(self) -> None:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._server = server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connects.append(asyncio.get_running_loop().time())
        try:
            while first := await reader.read(CHUNK):
                if not await self._exchange(first, reader, writer):
                    break
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def _exchange(self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request (its first bytes read) and its answer, over a new upstream connection.
        False when the client's connection must close too (a response without a known length)."""
        loop = asyncio.get_running_loop()
        began = [loop.time()]  # when the client last began speaking: the next response's request
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        up_writer.write(first)
        spoke = [False]

        async def to_server() -> None:  # the rest of the request (a body sent after 100 Continue)
            while data := await reader.read(CHUNK):
                if spoke[0]:
                    began[0], spoke[0] = loop.time(), False
                up_writer.write(data)
                await up_writer.drain()

        pump = asyncio.create_task(to_server())
        try:
            while True:
                head = await up_reader.readuntil(b"\r\n\r\n")
                self.sent.append(began[0])
                self.lines.append(first.split(b"\r\n", 1)[0].decode("latin-1"))
                self.held.append(loop.time())
                spoke[0] = True
                if self.latency:
                    await asyncio.sleep(self.latency)
                status = int(head.split(b" ", 2)[1])
                if 100 <= status < 200:  # interim: the final response follows on this connection
                    writer.write(head)
                    await writer.drain()
                    continue
                length = _body_length(head, first.startswith(b"HEAD "), status)
                if length is not None or _chunked(head):
                    head = _keep_alive(head)
                await _stop(pump)  # the request is over: the client's next bytes are the next request
                writer.write(head)
                await _forward_body(head, length, up_reader, writer)
                return length is not None or _chunked(head)
        finally:
            await _stop(pump)
            up_writer.close()


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel `task` and wait until it has stopped reading (a second reader may then start)."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
        await task


def _headers(head: bytes) -> dict[bytes, bytes]:
    lines = head.split(b"\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines if b":" in line)}


def _chunked(head: bytes) -> bool:
    return b"chunked" in _headers(head).get(b"transfer-encoding", b"").lower()


def _body_length(head: bytes, head_request: bool, status: int) -> int | None:
    """The body's length when the headers say it; None: chunked, or until the server closes."""
    if head_request or status in (204, 304):
        return 0
    value = _headers(head).get(b"content-length")
    return int(value) if value is not None and not _chunked(head) else None


def _keep_alive(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    return b"\r\n".join(line for line in lines if line.lower().replace(b" ", b"") != b"connection:close")


async def _forward_body(
    head: bytes, length: int | None, up_reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    if length is not None:
        while length:
            data = await up_reader.readexactly(min(length, CHUNK))
            writer.write(data)
            length -= len(data)
    elif _chunked(head):
        while True:
            line = await up_reader.readuntil(b"\r\n")
            size = int(line.split(b";")[0], 16)
            writer.write(line + await up_reader.readexactly(size + 2))
            if size == 0:  # no trailers from werkzeug: the last chunk's CRLF ends the body
                break
    else:
        while data := await up_reader.read(CHUNK):
            writer.write(data)
    await writer.drain()


class Proxies:
    """Latency proxies on one asyncio loop in a daemon thread (the handler runs in a child process)."""

    def __init__(self, upstream: tuple[str, int], latencies: list[float]) -> None:
        self.loop = asyncio.new_event_loop()
        self.by_latency = {latency: LatencyProxy(upstream, latency) for latency in latencies}
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="latency-proxy")
        self._thread.start()
        for proxy in self.by_latency.values():
            asyncio.run_coroutine_threadsafe(proxy.start(), self.loop).result(10)

    def endpoint(self, latency: float) -> str:
        return f"http://127.0.0.1:{self.by_latency[latency].port}"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


def serial_round_trips(
    held: list[float], latency: float, start: float, end: float, begins: list[float] | None = None
) -> float:
    """How many round trips a run waited for one after another: the union of its responses' delay
    intervals, in latencies. Two requests in flight together count once; one after another, twice.

    With `begins` (the `sent` times, same index as `held`) each interval starts when its request
    began instead of when the server answered: the server's own time (moto answers one request
    at a time under its GIL; S3 answers them in parallel) no longer spreads a batch's intervals."""
    starts = held if begins is None else begins
    intervals = sorted((s, s + latency) for s, t in zip(starts, held, strict=True) if start <= t <= end)
    covered, reach = 0.0, float("-inf")
    for begin, finish in intervals:
        if finish > reach:
            covered += finish - max(begin, reach)
            reach = finish
    return covered / latency if latency else 0.0
