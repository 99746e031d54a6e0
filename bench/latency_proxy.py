"""A TCP proxy that adds a fixed latency to every HTTP response, and records when each one started.

HTTP/1.1 without pipelining (what botocore speaks) alternates on a connection: the client
sends a request, the server answers. So the first bytes the server sends after the client
has spoken begin a response: the proxy holds them back `latency` seconds, counting one
request, and forwards everything else untouched. A request therefore costs one added round
trip, and requests on different connections (concurrent ones) overlap their delays, as on a
real network. Connection set-up is not delayed (a warm client reuses its connections).

Each delayed response is recorded as (time.monotonic() when it was held, latency): the
monotonic clock is system-wide on Linux, so a child process's run windows can be matched
against it.
"""

from __future__ import annotations

import asyncio
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

    async def start(self) -> None:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._server = server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        spoke = asyncio.Event()  # the client sent bytes the server has not answered yet

        async def to_server() -> None:
            while data := await reader.read(CHUNK):
                spoke.set()
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def to_client() -> None:
            while data := await up_reader.read(CHUNK):
                if spoke.is_set():  # a response begins
                    spoke.clear()
                    self.held.append(asyncio.get_running_loop().time())
                    if self.latency:
                        await asyncio.sleep(self.latency)
                writer.write(data)
                await writer.drain()
            writer.close()

        try:
            await asyncio.gather(to_server(), to_client())
        except (ConnectionError, OSError):
            writer.close()
            up_writer.close()


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


def serial_round_trips(held: list[float], latency: float, start: float, end: float) -> float:
    """How many round trips a run waited for one after another: the union of its responses' delay
    intervals, in latencies. Two requests in flight together count once; one after another, twice."""
    intervals = sorted((t, t + latency) for t in held if start <= t <= end)
    covered, reach = 0.0, float("-inf")
    for begin, finish in intervals:
        if finish > reach:
            covered += finish - max(begin, reach)
            reach = finish
    return covered / latency if latency else 0.0
