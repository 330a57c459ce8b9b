"""Keep-alive and stall detection for one stream socket.

A server that stops answering without closing (a hung process behind a healthy load balancer)
would otherwise leave the call silent until TCP gives up, minutes later. We ping every
`ping_interval_s` and, if nothing at all arrives within `pong_timeout_s` of a ping, cut the
socket so the stream reconnects. NEW has a `ping` message (answered with `pong`); OLD documents
none, so there WebSocket ping frames do the same job.
"""

from __future__ import annotations

import asyncio
import time

from structlog.typing import FilteringBoundLogger
from websockets.asyncio.client import ClientConnection

from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.protocol import StreamProtocol
from bridge.kallglot.stats import StreamStats


class Keepalive:
    def __init__(
        self,
        protocol: StreamProtocol,
        settings: KallglotSettings,
        stats: StreamStats,
        log: FilteringBoundLogger,
    ) -> None:
        self._protocol = protocol
        self._settings = settings
        self._stats = stats
        self._log = log
        self.last_heard = time.monotonic()

    def heard(self) -> None:
        """Anything arrived: the server is alive."""
        self.last_heard = time.monotonic()

    async def run(self, ws: ClientConnection) -> None:
        """Pings until cancelled; aborts `ws` (and returns) when the server goes quiet."""
        s = self._settings
        self.heard()
        while True:
            await asyncio.sleep(max(0.0, s.ping_interval_s - s.pong_timeout_s))
            sent_at = time.monotonic()
            text = self._protocol.ping()
            if text is not None:
                await ws.send(text)
            else:
                waiter = asyncio.ensure_future(await ws.ping())
                waiter.add_done_callback(self._on_pong)
            self._stats.pings_sent += 1
            await asyncio.sleep(s.pong_timeout_s)
            if self.last_heard < sent_at:
                self._stats.stalls += 1
                silent = round(time.monotonic() - sent_at, 3)
                self._log.warning("kallglot_stream_stalled", silent_s=silent)
                ws.transport.abort()
                return

    def _on_pong(self, waiter: asyncio.Future[float]) -> None:
        if not waiter.cancelled() and waiter.exception() is None:
            self.heard()
