"""A minimal WebSocket client for the load generator: pre-framed sends, callback receives.

A general client (aiohttp's) spends more per message than the bridge's own frame handling, and
the generator shares its core with the Kallglot simulator: with it, the generator would measure
its own event-loop lag as much as the bridge's latency. Here a send is one `transport.write` of
bytes framed (and masked) when the leg was built, and a received frame is handled in
`data_received` itself, with no task to wake. Only what the benchmark needs: text frames out,
unfragmented text frames in, ping answered, close answered. Never for production use.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import Callable, Mapping
from time import perf_counter_ns
from urllib.parse import urlsplit

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    """One final client frame (masked, as RFC 6455 requires of clients)."""
    mask = mask or os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return head + mask + masked


def text_frame(text: str, mask: bytes | None = None) -> bytes:
    return frame(TEXT, text.encode(), mask)


class RawSocket(asyncio.Protocol):
    """One client WebSocket; `on_text(text, received_at_ns)` runs for every text message."""

    def __init__(self, on_text: Callable[[str, int], None]) -> None:
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self._buffer = b""
        self._upgraded = False
        loop = asyncio.get_running_loop()
        self._handshake: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[None] = loop.create_future()

    @classmethod
    async def connect(
        cls,
        url: str,
        on_text: Callable[[str, int], None],
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 30.0,
    ) -> RawSocket:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {parts.path or '/'} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        loop = asyncio.get_running_loop()
        _, socket = await loop.create_connection(lambda: cls(on_text), host, port)
        assert socket.transport is not None
        socket.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        async with asyncio.timeout(timeout_s):
            await socket._handshake
        return socket

    @property
    def closed(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def send(self, framed: bytes) -> bool:
        """Writes an already framed message; False once the socket is closing."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        transport.write(framed)
        return True

    def send_text(self, text: str) -> bool:
        return self.send(text_frame(text))

    async def close(self, timeout_s: float = 5.0) -> None:
        """Close handshake, then the TCP connection (after `timeout_s` at the latest)."""
        if self.send(frame(CLOSE, (1000).to_bytes(2, "big"))):
            try:
                async with asyncio.timeout(timeout_s):
                    await asyncio.shield(self.done)
            except TimeoutError:
                pass
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._handshake.done():
            self._handshake.set_exception(ConnectionError(f"connection lost: {exc!r}"))
        if not self.done.done():
            self.done.set_result(None)

    def data_received(self, data: bytes) -> None:
        at = perf_counter_ns()
        buffer = self._buffer + data if self._buffer else data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                self._buffer = buffer
                return
            if not self._upgrade(buffer[:end].decode("latin-1")):
                return
            buffer = buffer[end + 4 :]
        pos, size = 0, len(buffer)
        while size - pos >= 2:
            opcode, length = buffer[pos] & 0x0F, buffer[pos + 1] & 0x7F
            start = pos + 2
            if length == 126:
                length, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
            elif length == 127:
                length, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
            if size < start + length:
                break
            payload = buffer[start : start + length]
            pos = start + length
            if opcode == TEXT:
                self.on_text(payload.decode(), at)
            elif opcode == PING:
                self.send(frame(PONG, payload))
            elif opcode == CLOSE:
                self.send(frame(CLOSE, payload[:2]))
                if self.transport is not None:
                    self.transport.close()
                break
        self._buffer = buffer[pos:]

    def _upgrade(self, head: str) -> bool:
        status = head.partition("\r\n")[0]
        if status.split(" ")[1:2] != ["101"]:
            if not self._handshake.done():
                self._handshake.set_exception(ConnectionError(f"upgrade refused: {status}"))
            if self.transport is not None:
                self.transport.close()
            return False
        self._upgraded = True
        if not self._handshake.done():
            self._handshake.set_result(None)
        return True
