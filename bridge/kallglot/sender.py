"""The audio-out half of a stream: outbox in, audio messages onto whichever socket is current.

A message is built (and its sequence number taken) only when it is about to be sent. If the socket
dies during the send, the built message is kept and goes out first on the next socket, with the
same sequence: the series the server sees has no gaps and never goes backwards.
"""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.client import ClientConnection

from bridge.kallglot.outbox import Outbox
from bridge.kallglot.protocol import StreamProtocol
from bridge.kallglot.stats import StreamStats


class Sender:
    def __init__(self, outbox: Outbox, protocol: StreamProtocol, stats: StreamStats) -> None:
        self._outbox = outbox
        self._protocol = protocol
        self._stats = stats
        self._attached = False  # a writer is running on a socket
        self._wake = asyncio.Event()  # there is something to send
        self._idle = asyncio.Event()  # everything queued has been sent
        # (speaker, bytes, message, ready_at): built, not yet sent
        self._unsent: tuple[str, int, str, float] | None = None

    @property
    def busy(self) -> bool:
        return bool(self._outbox.pending or self._unsent)

    def push(self, speaker: str, data: bytes) -> None:
        """Hot path: queue audio; wake the writer only when a whole chunk is ready."""
        if self._outbox.push(speaker, data) and self._attached:
            self._wake.set()

    async def run(self, ws: ClientConnection) -> None:
        """Sends until cancelled or the socket closes (ConnectionClosed propagates)."""
        outbox, stats, protocol = self._outbox, self._stats, self._protocol
        self._attached = True
        self._wake.set()  # whatever queued up while we were away goes first
        try:
            while True:
                if self._unsent is None:
                    chunk = outbox.pop()
                    if chunk is None:
                        self._idle.set()
                        self._wake.clear()
                        await self._wake.wait()
                        continue
                    text = protocol.audio(chunk.speaker, chunk.data, chunk.timestamp_ms)
                    self._unsent = (chunk.speaker, len(chunk.data), text, chunk.ready_at)
                speaker, nbytes, text, ready_at = self._unsent
                await ws.send(text)
                self._unsent = None
                stats.chunks_sent += 1
                stats.bytes_sent[speaker] = stats.bytes_sent.get(speaker, 0) + nbytes
                if stats.on_chunk_sent is not None:
                    stats.on_chunk_sent(time.monotonic() - ready_at, speaker)
        finally:
            self._attached = False

    async def drain(self) -> None:
        """End of stream: queue every speaker's partial chunk and wait until all is sent (the
        caller bounds the wait: without a socket it would never end)."""
        if self._outbox.flush() or self.busy:
            self._idle.clear()
            self._wake.set()
            await self._idle.wait()
