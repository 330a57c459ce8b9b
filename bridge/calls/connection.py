"""One leg's live media socket: everything written to it goes through the playout task.

A single writer per socket means frames, marks and `clear` can never interleave, and a slow or
dead carrier socket stalls only its own leg. The task wakes when audio arrives and otherwise
sleeps until the next absolute deadline, so an idle leg costs nothing.

Playout paces in 20 ms frames, but the frames due at one moment (a translated chunk usually
makes several due at once) go out as one carrier message where the carrier allows it: a send
costs about the same for one frame as for five, and sends are most of what this path costs.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import structlog

from bridge.audio.formats import AudioFormat
from bridge.audio.playout import PlayoutBuffer
from bridge.tasks import cancel_and_wait


class OutboundMessages(Protocol):
    """The part of a carrier's media-stream protocol playout needs (see bridge.carriers.base)."""

    @property
    def media_format(self) -> AudioFormat: ...
    @property
    def max_frames_per_message(self) -> int: ...
    @property
    def supports_marks(self) -> bool: ...
    @property
    def supports_clear(self) -> bool: ...
    def media(self, audio: bytes) -> str | bytes: ...
    def mark(self, name: str) -> str | bytes: ...
    def clear(self) -> str | bytes: ...


class AddedDelays:
    """The delay this leg's audio spent in the bridge, per chunk, in seconds (the latest
    `KEPT`): to Kallglot (a chunk's last byte in to its send) and from it (a translated chunk
    in to its first frame out). The same measures as `bridge_added_latency_seconds`, per leg."""

    KEPT = 3000

    def __init__(self, observe_outbound: Callable[[float], None] | None = None) -> None:
        self.inbound: deque[float] = deque(maxlen=self.KEPT)
        self.outbound: deque[float] = deque(maxlen=self.KEPT)
        self._observe_outbound = observe_outbound

    def outbound_observed(self, seconds: float) -> None:
        self.outbound.append(seconds)
        if self._observe_outbound is not None:
            self._observe_outbound(seconds)


class LegConnection:
    def __init__(
        self,
        messages: OutboundMessages,
        send: Callable[[str | bytes], Awaitable[None]],
        close: Callable[[int, str], Awaitable[None]],
        buffer: PlayoutBuffer,
        *,
        stream_id: str,
        carrier_call_id: str,
        carrier: str = "",
        delays: AddedDelays | None = None,
    ) -> None:
        self.messages = messages
        self.buffer = buffer
        buffer.marks = messages.supports_marks  # playout trusts echoes only where they come
        self.stream_id = stream_id
        self.carrier_call_id = carrier_call_id
        self.carrier = carrier  # the carrier's name (bridge/carriers/registry.py)
        self.frames_in = 0
        self.delays = delays or AddedDelays()
        self._send = send
        self._close = close
        self._waiter: asyncio.Future[None] | None = None  # set while the playout task sleeps
        self._clear_pending = False
        self._closed = False
        self._task: asyncio.Task[None] | None = None
        self._log = structlog.get_logger(__name__).bind(stream_id=stream_id)

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"playout-{self.stream_id}")

    def play(self, fmt: AudioFormat, data: bytes) -> None:
        if self._closed:
            return
        self.buffer.push(fmt, data)
        self._wake()

    def play_original(self, fmt: AudioFormat, data: bytes) -> None:
        """The other party's own voice, where this leg hears it under the translation."""
        if self._closed:
            return
        self.buffer.push_original(fmt, data)
        self._wake()

    def clear(self) -> None:
        """Drops queued audio here and at the carrier (sent by the playout task, in order)."""
        self.buffer.clear()
        self._clear_pending = self.messages.supports_clear
        self._wake()

    def mark_played(self, name: str) -> None:
        self.buffer.mark_played(name)

    async def stop(self, *, clear: bool) -> None:
        """Stops playout; with `clear`, the carrier also drops what it still has queued, so a
        party whose call is ending (or moving) hears no stale translation play on."""
        if self._task is not None and not self._task.done():
            await cancel_and_wait([self._task])
        carrier_has_audio = self.buffer.buffered_at_carrier_s() > 0
        if clear and not self._closed and carrier_has_audio and self.messages.supports_clear:
            try:
                await self._send(self.messages.clear())
            except Exception as exc:  # the carrier may have gone already
                self._log.debug("clear_failed", error=repr(exc))
            self.buffer.clear()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Stops playout and closes the socket; idempotent, never raises."""
        if self._closed:
            return
        self._closed = True  # first: a teardown running meanwhile must not close it again
        await self.stop(clear=False)
        try:
            await self._close(code, reason)
        except Exception as exc:  # the carrier may have gone already
            self._log.debug("close_failed", error=repr(exc))

    async def _run(self) -> None:
        messages, buffer = self.messages, self.buffer
        batch = max(1, messages.max_frames_per_message)
        try:
            while True:
                if self._clear_pending:
                    self._clear_pending = False
                    await self._send(messages.clear())
                wait = buffer.wait_before_next()
                if wait is None or wait > 0:
                    await self._sleep(wait)
                    continue
                frames, mark = buffer.take_due()
                for i in range(0, len(frames), batch):
                    await self._send(messages.media(b"".join(frames[i : i + batch])))
                if mark is not None:
                    await self._send(messages.mark(mark))
        except (ConnectionError, RuntimeError) as exc:  # socket gone: the reader notices too
            self._log.info("playout_stopped", reason=repr(exc))

    async def _sleep(self, wait: float | None) -> None:
        """Until `wait` seconds have passed (None: indefinitely) or `_wake()` is called.

        A bare future and, only when there is a deadline, one timer handle: this runs for every
        batch of frames on every leg, where `asyncio.timeout` around an `Event` costs ~1.5 us
        more per wake (a context manager, a timeout even without a deadline, the Event's own
        waiter list).
        """
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        timer = None if wait is None else loop.call_later(wait, self._wake)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
