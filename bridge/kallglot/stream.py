"""One Kallglot session's stream: send audio, receive events, survive drops, end cleanly.

Per connection three tasks run (the reader here, `Sender`, `Keepalive`), plus one supervisor per
stream; nothing is created per frame. `send_audio` only appends to the `Outbox` and, when a whole
chunk is ready, wakes the writer. When the socket drops, the supervisor reconnects (first attempt
within `reconnect_first_delay_s`, then capped exponential backoff with jitter), fetching a fresh
token via `GET /v1/sessions/{id}` when the old one has expired or the handshake is refused.
Meanwhile audio accumulates in the outbox and goes out, in order, once the new socket is ready.
When every attempt fails, `StreamFailed` tells the owner to end the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable
from enum import StrEnum

import structlog
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from bridge.audio import AudioFormat
from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.connection import SessionGone
from bridge.kallglot.connector import Connector
from bridge.kallglot.errors import KallglotError, NotFoundError, StreamError
from bridge.kallglot.events import (
    Ended,
    Malformed,
    Pong,
    Ready,
    Reconnected,
    ServerEvent,
    SessionError,
    StreamEvent,
    StreamFailed,
    Unknown,
)
from bridge.kallglot.keepalive import Keepalive
from bridge.kallglot.models import Session
from bridge.kallglot.outbox import Outbox
from bridge.kallglot.protocol import StreamProtocol, protocol_for
from bridge.kallglot.rest import KallglotClient
from bridge.kallglot.sender import Sender
from bridge.kallglot.stats import StreamStats
from bridge.log import describe
from bridge.tasks import cancel_and_wait

log = structlog.get_logger("bridge.kallglot.stream")
LOGGED_ODDITIES = 10  # log the first few unknown/malformed messages, count the rest


class State(StrEnum):
    NEW = "new"
    CONNECTING = "connecting"
    OPEN = "open"
    RECONNECTING = "reconnecting"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


class KallglotStream:
    def __init__(
        self,
        client: KallglotClient,
        session: Session,
        settings: KallglotSettings,
        *,
        protocol: StreamProtocol | None = None,
        end_idempotency_key: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.state = State.NEW
        self._reconnected = asyncio.Event()  # set when a reconnect ends, whichever way
        self._client = client
        self._protocol = protocol or protocol_for(settings.stream_protocol)
        self._log = log.bind(session_id=session.id)
        self._connector = Connector(
            client,
            session,
            settings,
            self._protocol,
            self._emit_server,
            rng or random.Random(),
            self._log,
        )
        outbox = Outbox(self._protocol.input_format, settings.chunk_ms, settings.reconnect_buffer_s)
        self.stats = StreamStats(outbox)
        self._sender = Sender(outbox, self._protocol, self.stats)
        self._keepalive = Keepalive(self._protocol, settings, self.stats, self._log)
        self._end_key = end_idempotency_key or f"{session.id}-end"
        self._events: asyncio.Queue[StreamEvent | None] = asyncio.Queue()
        self._handler: Callable[[StreamEvent], None] | None = None
        self._finished = False
        self._ws: ClientConnection | None = None
        self._server_ended = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._gone = False  # Kallglot no longer knows the session (found on reconnect)
        # After close(): whether Kallglot confirmed the session ended, and if not, why.
        self.end_confirmed = False
        self.end_error: str | None = None

    @property
    def session(self) -> Session:
        """The session as last fetched (its stream token is refreshed on reconnect)."""
        return self._connector.session

    @property
    def input_format(self) -> AudioFormat:
        """The format `send_audio` expects (mu-law 8 kHz for NEW, PCM16 16 kHz for OLD)."""
        return self._protocol.input_format

    def send_audio(self, speaker: str, data: bytes) -> None:
        """Queues audio (any length, in `input_format`). Never blocks, never raises."""
        if self.state in (State.CLOSING, State.CLOSED, State.FAILED):
            return
        self._sender.push(speaker, data)

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Events until (and including) `Ended` or `StreamFailed`, or until the stream closes."""
        while (event := await self._events.get()) is not None:
            yield event

    def on_event(self, handler: Callable[[StreamEvent], None]) -> None:
        """Hands every event to `handler` instead of `events()`: those already queued at once,
        later ones from the task that received them. Translated audio then reaches its listener
        without a task switch through a queue; `handler` must return quickly."""
        while not self._events.empty():
            event = self._events.get_nowait()
            if event is not None:
                self._deliver(handler, event)
        self._handler = handler

    async def connect(self) -> None:
        """Opens the stream and returns once it is ready for audio; raises `KallglotError`."""
        if self.state is not State.NEW:
            raise StreamError(f"connect() called in state {self.state}")
        self.state = State.CONNECTING
        try:
            ws, _ = await self._connector.establish(initial=True)
        except BaseException:
            self.state = State.FAILED
            raise
        self.stats.connections += 1
        if self.state is not State.CONNECTING:  # close() ran while we were connecting
            await ws.close()
            raise StreamError("stream was closed while connecting")
        self.state = State.OPEN
        self._ws = ws  # set now, not when the supervisor first runs: close() may come first
        self._supervisor = asyncio.create_task(
            self._supervise(ws), name=f"kallglot-{self.session.id}"
        )

    async def close(self) -> None:
        """Ends the session cleanly. Idempotent, bounded in time, never raises."""
        if self._close_task is None:
            self._close_task = asyncio.create_task(self._close())
        with contextlib.suppress(Exception):
            await asyncio.shield(self._close_task)

    # -- connection lifecycle -------------------------------------------------------------

    async def _supervise(self, ws: ClientConnection) -> None:
        while True:
            await self._run(ws)
            if self.state is State.CLOSING:
                return
            if self._server_ended.is_set():
                self.state = State.CLOSED
                return
            self.stats.drops += 1
            self.state = State.RECONNECTING
            self._reconnected.clear()
            self._log.warning("kallglot_stream_dropped", close_code=ws.close_code)
            started = time.monotonic()
            try:
                ws, attempts = await self._connector.establish(initial=False)
            except SessionGone as exc:
                self.state = State.CLOSED
                self._gone = True
                self._finish(Ended(f"session_gone: {exc.message}", self.session.id))
                return
            except KallglotError as exc:
                self.state = State.FAILED
                self._log.error("kallglot_stream_failed", error=describe(exc))
                self._finish(StreamFailed(str(exc)))
                return
            if self.state is State.CLOSING:  # close() gave up waiting for this reconnect
                await ws.close()
                return
            self.state = State.OPEN
            self._reconnected.set()
            self._ws = ws
            self.stats.connections += 1
            self.stats.reconnects += 1
            downtime = time.monotonic() - started
            self._log.info(
                "kallglot_stream_reconnected", attempts=attempts, downtime_s=round(downtime, 3)
            )
            self._emit(Reconnected(attempts, downtime))

    async def _run(self, ws: ClientConnection) -> None:
        """Serves one socket until it closes (or stalls); the outbox survives for the next one."""
        helpers = [
            asyncio.create_task(self._sender.run(ws)),
            asyncio.create_task(self._keepalive.run(ws)),
        ]
        for task in helpers:
            task.add_done_callback(lambda t: self._helper_done(ws, t))
        try:
            await self._reader(ws)
        finally:
            self._ws = None
            await cancel_and_wait(helpers)
            if ws.close_code is None and self.state is not State.CLOSING:
                ws.transport.abort()

    async def _reader(self, ws: ClientConnection) -> None:
        protocol = self._protocol
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                self._keepalive.heard()
                event = protocol.parse(raw)
                if isinstance(event, Ended):
                    self._server_ended.set()
                    self._finish(event)
                    return
                self._emit_server(event)

    def _helper_done(self, ws: ClientConnection, task: asyncio.Task[None]) -> None:
        """A writer or pinger that dies of anything but a closed socket must not leave the
        reader running on a half-working connection: abort it, the supervisor reconnects."""
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, ConnectionClosed):
            self._log.error("kallglot_stream_task_crashed", task=task.get_name(), error=repr(exc))
            ws.transport.abort()

    # -- ending ---------------------------------------------------------------------------

    async def _close(self) -> None:
        if self.state is State.RECONNECTING:
            # Dropped just before the end: the audio tail waits in the reconnect buffer, and
            # goes out on the new socket if it comes within the end timeout.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.end_timeout_s):
                    await self._wait_reconnected()
        was_open = self.state is State.OPEN
        self.state = State.CLOSING
        ws = self._ws
        try:
            if was_open and ws is not None:
                await self._end_on_socket(ws)
        except Exception as exc:
            self._log.info("kallglot_stream_end_failed", error=describe(exc))
        finally:
            if ws is not None and ws.close_code is None:
                ws.transport.abort()
            if self._supervisor is not None:
                await cancel_and_wait([self._supervisor])
        confirmed = self._server_ended.is_set() or self._gone
        try:
            async with asyncio.timeout(
                max(self.settings.end_timeout_s, self.settings.http_timeout_s)
            ):
                await self._client.end_session(self.session.id, idempotency_key=self._end_key)
            confirmed = True
        except NotFoundError:  # Kallglot no longer knows it: nothing runs, nothing bills
            confirmed = True
        except Exception as exc:  # the safety net must not turn a clean teardown into a crash
            self.end_error = describe(exc)
            self._log.warning("kallglot_rest_end_failed", error=self.end_error)
        self.end_confirmed = confirmed
        self.state = State.CLOSED
        self._finish(Ended("closed", self.session.id))

    async def _wait_reconnected(self) -> None:
        """Until the reconnect under way ends: open again, or given up (the supervisor ends)."""
        supervisor = self._supervisor
        waiting = asyncio.ensure_future(self._reconnected.wait())
        pending = {waiting} | ({supervisor} if supervisor is not None else set())
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()

    async def _end_on_socket(self, ws: ClientConnection) -> None:
        """Flush the audio tail, send `session.end`, wait briefly for `session.ended`, close."""
        timeout = self.settings.end_timeout_s
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._sender.drain()
        with contextlib.suppress(ConnectionClosed):
            await ws.send(self._protocol.end())
            # `session.ended`, or the server simply closing (an OLD server may not announce it).
            waits = {
                asyncio.ensure_future(self._server_ended.wait()),
                asyncio.ensure_future(ws.wait_closed()),
            }
            try:
                await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
        async with asyncio.timeout(timeout + 1):
            await ws.close()

    # -- events ---------------------------------------------------------------------------

    def _emit_server(self, event: ServerEvent) -> None:
        if isinstance(event, Ready | Pong):
            return
        self.stats.observe(event)
        oddities = self.stats.malformed + self.stats.unknown + self.stats.session_errors
        if isinstance(event, Malformed | Unknown) and oddities <= LOGGED_ODDITIES:
            detail = event.reason if isinstance(event, Malformed) else None
            self._log.warning("kallglot_odd_message", type=event.type, malformed=detail)
        elif isinstance(event, SessionError) and oddities <= LOGGED_ODDITIES:
            self._log.warning("kallglot_session_error", code=event.code, detail=event.message)
        self._emit(event)

    def _emit(self, event: StreamEvent) -> None:
        if self._finished:
            return
        if self._handler is not None:
            self._deliver(self._handler, event)
        else:
            self._events.put_nowait(event)

    def _finish(self, event: Ended | StreamFailed) -> None:
        if not self._finished:
            self._emit(event)
            self._events.put_nowait(None)
            self._finished = True

    def _deliver(self, handler: Callable[[StreamEvent], None], event: StreamEvent) -> None:
        try:
            handler(event)
        except Exception:  # the owner's bug must not take down the reader (or the supervisor)
            self._log.exception("kallglot_event_handler_failed", kind=type(event).__name__)
