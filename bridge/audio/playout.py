"""What one leg hears: translated audio in whatever format it arrives, out as paced carrier frames.

Pure bookkeeping (no sockets, no sleeping): the async runner asks `take_due()` which frames may
go now, sends them, and sleeps `wait_before_next()`. Keeping the decision here makes pacing,
bounded queues, drops and mark accounting testable with a fake clock.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bridge.audio.converter import Converter
from bridge.audio.formats import AudioFormat
from bridge.audio.framer import Reframer
from bridge.audio.pacing import PacingClock

FRAME_MS = 20


@dataclass(slots=True)
class PlayoutStats:
    frames_queued: int = 0
    frames_sent: int = 0
    frames_dropped: int = 0  # oldest frames dropped because the queue was full
    frames_cleared: int = 0  # dropped on purpose (clear)
    underflows: int = 0  # the carrier ran dry mid-stream
    frames_heard: int = 0  # confirmed by the carrier's mark echoes


class PlayoutBuffer:
    def __init__(
        self,
        carrier_format: AudioFormat,
        *,
        lead_ms: int = 200,
        prebuffer_ms: int = 60,
        max_queue_ms: int = 20_000,
        mark_every_ms: int = 500,
        underflow_window_s: float = 1.0,
        now: Callable[[], float] = time.monotonic,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        self.carrier_format = carrier_format
        self.stats = PlayoutStats()
        self._framer = Reframer(carrier_format, FRAME_MS)
        self._converters: dict[AudioFormat, Converter] = {}
        self._queue: deque[bytes] = deque()
        self._max_frames = max(1, max_queue_ms // FRAME_MS)
        self._clock = PacingClock(FRAME_MS / 1000, lead_ms / 1000, now)
        self._now = now
        # Jitter buffer: a talkspurt starts playing this long after its first audio arrived, so
        # the carrier holds a cushion that much larger than the audio that has arrived. Without
        # it, a chunk arriving a few ms late leaves the carrier nothing to play and the listener
        # hears a hole mid-word. Time, not a frame count: audio arrives in 100 ms chunks, so one
        # chunk would satisfy any count and buy no cushion at all.
        self._prebuffer_s = prebuffer_ms / 1000
        self._first_queued_at = 0.0
        # Outbound latency per pushed chunk: (queue position of its first frame, arrival time).
        self._on_latency = on_latency
        self._arrivals: deque[tuple[int, float]] = deque()
        self._removed = 0  # frames that left the queue: sent, dropped or cleared
        self._mark_every = max(1, mark_every_ms // FRAME_MS)
        self._underflow_window = underflow_window_s
        self._since_mark = 0
        self._generation = 0  # bumped by clear(): echoes of older marks prove nothing

    @property
    def queued_frames(self) -> int:
        return len(self._queue)

    def push(self, fmt: AudioFormat, data: bytes) -> None:
        """Adds audio in `fmt` (converted here with one streaming converter per source format)."""
        converter = self._converters.get(fmt)
        if converter is None:
            converter = self._converters[fmt] = Converter(fmt, self.carrier_format)
        frames = self._framer.push(converter.convert(data))
        if not frames:
            return
        now = self._now()
        if not self._queue:
            self._first_queued_at = now
        if self._on_latency is not None:
            self._arrivals.append((self._removed + len(self._queue), now))
        self._queue.extend(frames)
        self.stats.frames_queued += len(frames)
        overflow = len(self._queue) - self._max_frames
        if overflow > 0:  # keep the newest: a listener would rather skip than fall behind
            for _ in range(overflow):
                self._queue.popleft()
            self.stats.frames_dropped += overflow
            self._removed += overflow
            while self._arrivals and self._arrivals[0][0] < self._removed:
                self._arrivals.popleft()  # dropped, never played: no latency to report

    def wait_before_next(self) -> float | None:
        """Seconds until a frame may be sent; None when there is nothing to send."""
        if not self._queue:
            return None
        if self._clock.buffered_seconds() == 0:  # the carrier has nothing left: a talkspurt starts
            return max(0.0, self._first_queued_at + self._prebuffer_s - self._now())
        return self._clock.wait_before_next()

    def take_due(self) -> tuple[list[bytes], str | None]:
        """Frames that may be sent now, and the name of a mark to send after them (or None)."""
        if self.wait_before_next() != 0:
            return [], None
        count, starved = self._clock.send_due(len(self._queue))
        if 0 < starved < self._underflow_window and self.stats.frames_sent:
            self.stats.underflows += 1
        queue = self._queue
        frames = [queue.popleft() for _ in range(count)]
        self.stats.frames_sent += count
        if frames:
            self._removed += len(frames)
            self._observe_latency()
        self._since_mark += len(frames)
        if self._since_mark < self._mark_every:
            return frames, None
        return frames, self.final_mark()

    def final_mark(self) -> str | None:
        """A mark covering everything sent so far that no mark covers yet (None if nothing)."""
        if not self._since_mark:
            return None
        self._since_mark = 0
        return f"{self._generation}:{self.stats.frames_sent}"

    def _observe_latency(self) -> None:
        """Chunks whose first frame just left: how long they waited here."""
        arrivals, now = self._arrivals, None
        while arrivals and arrivals[0][0] < self._removed:
            _, arrived = arrivals.popleft()
            now = self._now() if now is None else now
            if self._on_latency is not None:
                self._on_latency(now - arrived)

    def mark_played(self, name: str) -> None:
        generation, _, frames = name.partition(":")
        if generation == str(self._generation) and frames.isdigit():
            self.stats.frames_heard = max(self.stats.frames_heard, int(frames))

    def clear(self) -> int:
        """Drops everything queued here; the caller also tells the carrier (`clear`)."""
        dropped = len(self._queue)
        self._queue.clear()
        self._removed += dropped
        self._arrivals.clear()
        self._framer.clear()
        for converter in self._converters.values():
            converter.reset()
        self._clock.reset()
        self._generation += 1
        self._since_mark = 0
        self.stats.frames_cleared += dropped
        return dropped

    def buffered_at_carrier_s(self) -> float:
        return self._clock.buffered_seconds()
