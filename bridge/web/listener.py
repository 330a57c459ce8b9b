"""The listening socket of `serve`: connection hygiene for a bridge that faces the internet.

aiohttp alone keeps a connection that never sends a request for its `keepalive_timeout` (3630 s
by default; that timer starts when the connection is made and partial data does not reset it),
and it has no header-read timeout and no limit on connections still waiting for a request. So
500 idle sockets or a slowloris that dribbles header bytes hold file descriptors for an hour.

Here each new connection first meets a small guard protocol. Until the first request head is
complete (its blank line, `\\r\\n\\r\\n`, has arrived) the connection is *pending*: the guard
forwards every callback to aiohttp's own `RequestHandler` (made by `runner.server()`, and given
the transport at once so aiohttp tracks the connection for shutdown), counts it per peer and in
all, and aborts it when its head is not complete within `http_header_timeout_s`. A connection
arriving while its peer already has `http_max_pending_per_ip` pending ones, or while
`http_max_pending` are pending in all, is aborted at once. When the head is complete the guard
hands the transport to the handler (`transport.set_protocol`), so a media WebSocket's frames
then cost no extra Python call at all.

Later requests on a kept-alive connection are bounded by aiohttp's keepalive timer: the runner
made by `app_runner` closes a connection idle for `http_keepalive_timeout_s` after its last
response, and as that timer is not reset by partial data either, a slowloris on a second request
lives no longer than that. (The same timer also runs from connection_made, so a header timeout
longer than the keepalive timeout has no effect.) Not covered: a slow *body* after a full head.

Leading empty lines before a request line are skipped as HTTP parsers do (RFC 9112, 2.2), so
sending `\\r\\n\\r\\n` alone does not escape the pending limits. IPv6 peers count per /64 (one
subscriber's allocation), since a single host can use any address of its /64.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

import structlog
from aiohttp import web

from bridge.calls.settings import BridgeSettings

log = structlog.get_logger(__name__)
HEAD_END = b"\r\n\r\n"
LOG_BURST = 5  # refusal log lines per window; a flood is summarised, its counts are in stats
LOG_WINDOW_S = 10.0
# Connections the kernel queues until we accept them (capped by net.core.somaxconn). A burst
# past web.TCPSite's 128 had SYNs dropped in tests (1 s retransmit each); the queue costs us
# nothing until the guard sees a connection.
BACKLOG = 1024


class Refusal(StrEnum):
    HEADER_TIMEOUT = "header_timeout"
    TOO_MANY_PENDING_PER_IP = "too_many_pending_per_ip"
    TOO_MANY_PENDING = "too_many_pending"


@dataclass(slots=True)
class ListenerStats:
    """Live counters of one listener (read them; the listener writes them)."""

    accepted: int = 0  # connections admitted as pending
    handed_over: int = 0  # ... whose first request head then completed
    pending: int = 0  # connections now without a complete first request head
    refused: Counter[str] = field(default_factory=Counter)  # by `Refusal`


class HeadDetector:
    """Whether a connection's first request head is complete, fed its bytes as they arrive.

    Keeps only the last 3 bytes across reads, so a dribbling client costs no buffer."""

    __slots__ = ("_started", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        self._started = False

    def feed(self, data: bytes) -> bool:
        if not self._started:
            data = data.lstrip(b"\r\n")  # empty lines before the request line are no head
            if not data:
                return False
            self._started = True
        if HEAD_END in self._tail + data[:3] or HEAD_END in data:
            return True
        self._tail = (self._tail + data[-3:])[-3:]
        return False


class PendingTable:
    """Pending connections per peer and in all, and whether one more may join them."""

    __slots__ = ("_by_peer", "max_per_peer", "max_total", "total")

    def __init__(self, max_per_peer: int, max_total: int) -> None:
        self.max_per_peer, self.max_total = max_per_peer, max_total
        self._by_peer: dict[str, int] = {}
        self.total = 0

    def admit(self, peer: str) -> Refusal | None:
        """Count one more pending connection from `peer`, or say why it may not be."""
        count = self._by_peer.get(peer, 0)
        if count >= self.max_per_peer:
            return Refusal.TOO_MANY_PENDING_PER_IP
        if self.total >= self.max_total:
            return Refusal.TOO_MANY_PENDING
        self._by_peer[peer] = count + 1
        self.total += 1
        return None

    def release(self, peer: str) -> None:
        count = self._by_peer.pop(peer) - 1
        if count:
            self._by_peer[peer] = count
        self.total -= 1


class LogThrottle:
    """At most `burst` lines per `window_s`: a trickle of refusals is logged line by line, a
    flood costs a few lines per window (the next line says how many were left out)."""

    __slots__ = ("_burst", "_skipped", "_used", "_window_s", "_window_start")

    def __init__(self, burst: int = LOG_BURST, window_s: float = LOG_WINDOW_S) -> None:
        self._burst, self._window_s = burst, window_s
        self._window_start = float("-inf")
        self._used = self._skipped = 0

    def allow(self, now: float) -> int | None:
        """None: leave this line out; else log it, with the number left out since the last."""
        if now - self._window_start >= self._window_s:
            self._window_start, self._used = now, 0
        if self._used >= self._burst:
            self._skipped += 1
            return None
        self._used += 1
        skipped, self._skipped = self._skipped, 0
        return skipped


def peer_host(peername: Any) -> str:
    """The peer's IP from a transport's `peername` (a tuple for TCP, else a path or None)."""
    return str(peername[0]) if isinstance(peername, tuple) and peername else "unknown"


def peer_key(host: str) -> str:
    """What pending connections are counted per: the IPv4 address, or the IPv6 /64."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # an IPv4 peer on a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


def app_runner(app: web.Application, settings: BridgeSettings) -> web.AppRunner:
    """The runner for `listen`: its handlers close a connection idle for keepalive_timeout."""
    return web.AppRunner(
        app, handle_signals=False, keepalive_timeout=settings.http_keepalive_timeout_s
    )


class _Gate:
    """What every guard of one listener shares: limits, counters, the handler factory."""

    def __init__(self, settings: BridgeSettings) -> None:
        self.make_handler: Callable[[], asyncio.Protocol] = _not_started
        self.on_refused: Callable[[str], None] | None = None
        self.header_timeout_s = settings.http_header_timeout_s
        self.table = PendingTable(settings.http_max_pending_per_ip, settings.http_max_pending)
        self.stats = ListenerStats()
        self.loop = asyncio.get_running_loop()
        self._throttle = LogThrottle()

    def admit(self, key: str) -> Refusal | None:
        refusal = self.table.admit(key)
        if refusal is None:
            self.stats.accepted += 1
            self.stats.pending = self.table.total
        return refusal

    def release(self, key: str) -> None:
        self.table.release(key)
        self.stats.pending = self.table.total

    def refuse(self, reason: Refusal, host: str) -> None:
        self.stats.refused[reason] += 1
        if self.on_refused is not None:
            self.on_refused(reason.value)
        skipped = self._throttle.allow(self.loop.time())
        if skipped is not None:
            log.info(
                "http_connection_refused",
                reason=reason.value,
                peer=host,
                refused_total=self.stats.refused.total(),
                log_lines_skipped=skipped,
            )


class _Guard(asyncio.Protocol):
    """One connection until its first request head is complete (see the module docstring)."""

    __slots__ = ("_gate", "_handler", "_head", "_host", "_key", "_timer", "_transport")

    def __init__(self, gate: _Gate) -> None:
        self._gate = gate
        self._transport: asyncio.Transport | None = None
        self._handler: asyncio.Protocol | None = None
        self._key: str | None = None  # set while counted as pending
        self._host = ""
        self._timer: asyncio.TimerHandle | None = None
        self._head = HeadDetector()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        gate, real = self._gate, cast(asyncio.Transport, transport)
        self._host = peer_host(real.get_extra_info("peername"))
        key = peer_key(self._host)
        refusal = gate.admit(key)
        if refusal is not None:
            real.abort()  # before anything that could raise
            gate.refuse(refusal, self._host)
            return
        self._key, self._transport = key, real
        self._timer = gate.loop.call_later(gate.header_timeout_s, self._header_timed_out)
        self._handler = gate.make_handler()
        self._handler.connection_made(real)

    def data_received(self, data: bytes) -> None:
        handler = self._handler
        if handler is None:
            return
        if self._head.feed(data):
            self._settle()
            self._gate.stats.handed_over += 1
            assert self._transport is not None
            self._transport.set_protocol(handler)
            self._handler = self._transport = None
        handler.data_received(data)

    def eof_received(self) -> bool | None:
        return self._handler.eof_received() if self._handler is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._settle()
        handler, self._handler, self._transport = self._handler, None, None
        if handler is not None:
            handler.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._handler is not None:
            self._handler.pause_writing()

    def resume_writing(self) -> None:
        if self._handler is not None:
            self._handler.resume_writing()

    def _header_timed_out(self) -> None:
        self._timer = None
        self._settle()
        if self._transport is not None:
            self._transport.abort()  # connection_lost follows and tells the handler
        self._gate.refuse(Refusal.HEADER_TIMEOUT, self._host)

    def _settle(self) -> None:
        """No longer pending: stop the timer and the counting (once)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._key is not None:
            self._gate.release(self._key)
            self._key = None


def _not_started() -> asyncio.Protocol:
    raise RuntimeError("a connection was accepted before Listener.start()")


class Listener:
    """A listening socket whose new connections pass the guard before aiohttp gets them."""

    def __init__(self, server: asyncio.Server, gate: _Gate) -> None:
        self._server = server
        self._gate = gate
        self.stats = gate.stats
        self.addresses: list[tuple[Any, ...]] = [s.getsockname() for s in server.sockets]
        self.port: int = int(self.addresses[0][1])

    async def start(
        self, runner: web.BaseRunner, *, on_refused: Callable[[str], None] | None = None
    ) -> None:
        """Accept connections from now on, for `runner`, which must be set up (`app_runner`
        makes one with the keepalive timeout); `on_refused` hears each refusal's reason."""
        server = runner.server
        if server is None:
            raise RuntimeError("Listener.start() needs a runner that is set up (runner.setup())")
        self._gate.make_handler, self._gate.on_refused = server, on_refused
        await self._server.start_serving()

    def close(self) -> None:
        """Stop listening. Open connections stay: `runner.cleanup()` shuts them down."""
        self._server.close()


async def bind(settings: BridgeSettings, *, backlog: int = BACKLOG) -> Listener:
    """Bind `settings.host`:`settings.port` (0: any free port) without accepting yet, so that a
    port in use or a host that is not this one's shows before anything else starts (`serve`
    binds first). OSError (socket.gaierror for a host name that does not resolve) when it
    cannot bind."""
    gate = _Gate(settings)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Guard(gate),
        settings.host or None,
        settings.port,
        backlog=backlog,
        start_serving=False,
    )
    return Listener(server, gate)


async def listen(
    runner: web.BaseRunner,
    settings: BridgeSettings,
    *,
    on_refused: Callable[[str], None] | None = None,
    backlog: int = BACKLOG,
) -> Listener:
    """`bind`, then `Listener.start` for `runner`."""
    if runner.server is None:
        raise RuntimeError("listen() needs a runner that is set up (await runner.setup())")
    listener = await bind(settings, backlog=backlog)
    await listener.start(runner, on_refused=on_refused)
    return listener
