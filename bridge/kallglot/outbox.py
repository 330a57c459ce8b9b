"""Outgoing audio: re-batched per speaker into chunks, queued in arrival order, bounded.

This is the hot path (every carrier frame of every leg lands in `push`), so it is a dict lookup,
a `Reframer.push` and, once per chunk, a deque append: no tasks, no locks, no logging. The queue
doubles as the reconnect buffer: while the socket is down the chunks simply stay here, and when it
is back the writer drains them oldest first. Past the per-speaker bound the OLDEST audio is
dropped (and counted): after a long outage the most recent speech is what the conversation needs.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from bridge.audio import AudioFormat, Reframer


@dataclass(frozen=True, slots=True)
class Chunk:
    order: int  # arrival order across all speakers
    speaker: str
    data: bytes = field(repr=False)
    timestamp_ms: int
    ready_at: float = 0.0  # time.monotonic() when its last byte arrived (latency metrics)


@dataclass(slots=True)
class _Lane:
    reframer: Reframer
    queue: deque[Chunk] = field(default_factory=deque)
    queued_bytes: int = 0


class Outbox:
    def __init__(self, fmt: AudioFormat, chunk_ms: int, max_buffer_s: float) -> None:
        self.format = fmt
        self.chunk_ms = chunk_ms
        chunk_bytes = fmt.bytes_for_ms(chunk_ms)
        # Never below one chunk, or a chunk would be dropped before the writer could take it.
        self.max_bytes = max(int(max_buffer_s * fmt.bytes_per_second), chunk_bytes)
        self.pending = 0  # chunks queued across all speakers
        self.accepted_bytes: dict[str, int] = {}
        self.dropped_bytes: dict[str, int] = {}
        self._lanes: dict[str, _Lane] = {}
        self._order = 0

    def push(self, speaker: str, data: bytes) -> bool:
        """Adds audio for `speaker`; True when at least one new chunk is ready to send."""
        lane = self._lanes.get(speaker)
        if lane is None:
            lane = self._add_lane(speaker)
        self.accepted_bytes[speaker] += len(data)
        frames = lane.reframer.push(data)
        if not frames:
            return False
        self._enqueue(lane, speaker, frames)
        return True

    def flush(self) -> bool:
        """Queues every speaker's partial chunk as a short final chunk (end of stream)."""
        queued = False
        sample = self.format.encoding.bytes_per_sample
        for speaker, lane in self._lanes.items():
            tail = lane.reframer.flush(pad=False)
            if tail and len(tail) >= sample:
                self._enqueue(lane, speaker, [tail[: len(tail) - len(tail) % sample]])
                queued = True
        return queued

    def pop(self) -> Chunk | None:
        """The oldest queued chunk across speakers."""
        best: _Lane | None = None
        for lane in self._lanes.values():
            if lane.queue and (best is None or lane.queue[0].order < best.queue[0].order):
                best = lane
        if best is None:
            return None
        chunk = best.queue.popleft()
        best.queued_bytes -= len(chunk.data)
        self.pending -= 1
        return chunk

    def _add_lane(self, speaker: str) -> _Lane:
        lane = self._lanes[speaker] = _Lane(Reframer(self.format, self.chunk_ms))
        self.accepted_bytes[speaker] = 0
        self.dropped_bytes[speaker] = 0
        return lane

    def _enqueue(self, lane: _Lane, speaker: str, frames: list[bytes]) -> None:
        now_ms, ready_at = int(time.time() * 1000), time.monotonic()
        for frame in frames:
            lane.queue.append(Chunk(self._order, speaker, frame, now_ms, ready_at))
            self._order += 1
            lane.queued_bytes += len(frame)
        self.pending += len(frames)
        while lane.queued_bytes > self.max_bytes:
            dropped = lane.queue.popleft()
            lane.queued_bytes -= len(dropped.data)
            self.dropped_bytes[speaker] += len(dropped.data)
            self.pending -= 1
