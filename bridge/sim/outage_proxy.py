"""A loopback TCP proxy that stages real outages of the service behind it.

Fault tests need the Kallglot service to fail the way a dead host does: new connects are refused
and open connections are reset. Stopping the simulator itself would lose its sessions, so a plain
byte pipe sits in front of it instead; it knows nothing of HTTP or WebSockets, and can go down and
come back on the same port while the service behind it keeps its state.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

CHUNK = 64 * 1024
# SO_LINGER on with a zero timeout: close() sends a TCP RST instead of an orderly FIN.
_LINGER_RESET = struct.pack("ii", 1, 0)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Cut a connection as a crashed host would: the peer sees ECONNRESET, not a clean EOF."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing left to reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    writer.transport.abort()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy one direction until EOF, then pass the EOF on (a half-close stays a half-close)."""
    while chunk := await reader.read(CHUNK):
        writer.write(chunk)
        await writer.drain()  # the slow side's backpressure reaches the fast side
    if writer.can_write_eof():
        writer.write_eof()


class OutageProxy:
    """Pipes each client connection to a fresh upstream connection; `down()` makes an outage."""

    def __init__(self, upstream_host: str, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.host = host
        self.port = 0  # 0 until start() binds; later listens reuse the same port
        self.accepted = 0  # client connections accepted
        self.cut = 0  # proxied connections reset by outages
        self.outages = 0  # down() calls that took the proxy down
        self._server: asyncio.Server | None = None
        self._closed = False
        # One entry per live connection: its task and the writers to reset when cut.
        self._links: dict[asyncio.Task[None], list[asyncio.StreamWriter]] = {}

    @property
    def is_down(self) -> bool:
        return self._server is None

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"

    async def start(self) -> int:
        """Listen (on a free port when none was given yet) and return the port."""
        await self.up()
        return self.port

    async def up(self) -> None:
        """Listen again on the same port; SO_REUSEADDR lets it follow down() at once."""
        if self._server is not None or self._closed:
            return
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Stop listening (new connects get ECONNREFUSED) and reset every proxied connection."""
        if self._server is None:
            return
        self.outages += 1
        await self._stop(count_cuts=True)

    async def outage(self, seconds: float) -> None:
        """Down for `seconds`, then up again, also when cancelled (meant to run as a task)."""
        await self.down()
        try:
            await asyncio.sleep(seconds)
        finally:
            await self.up()

    async def close(self) -> None:
        """Stop for good: no listener, no connections, none of this proxy's tasks left running."""
        self._closed = True
        await self._stop(count_cuts=False)

    async def _stop(self, *, count_cuts: bool) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()  # the listening socket goes first, so nothing new slips in
        links = list(self._links.items())
        self.cut += len(links) if count_cuts else 0
        for task, writers in links:
            for writer in writers:
                _reset(writer)
            task.cancel()
        await asyncio.gather(*(task for task, _ in links), return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._server is None:  # accepted just before the outage began: it is cut too
            self.cut += 0 if self._closed else 1
            _reset(client_w)
            return
        task = asyncio.current_task()
        assert task is not None
        writers = self._links[task] = [client_w]
        try:
            up_r, up_w = await asyncio.open_connection(self.upstream_host, self.upstream_port)
            writers.append(up_w)
            async with asyncio.TaskGroup() as pipes:
                pipes.create_task(_pump(client_r, up_w))
                pipes.create_task(_pump(up_r, client_w))
        except* OSError:  # refused upstream or a reset on either side: pass the reset on
            for writer in writers:
                _reset(writer)
        finally:
            del self._links[task]
            for writer in writers:
                writer.close()
