"""What one leg hears: translated audio in whatever format it arrives, out as paced carrier frames.

Pure bookkeeping (no sockets, no sleeping): the async runner asks `take_due()` which frames may
go now, sends them, and sleeps `wait_before_next()`. Keeping the decision here makes pacing,
bounded queues, drops and mark accounting testable with a fake clock.

Pacing follows the carrier's clock, not ours: what the carrier holds comes from its mark
echoes and its clock rate (bridge/audio/carrier_playhead.py), and we send while it would then
hold no more than `lead`. How long new audio waits before it plays is kept at the prebuffer by
adding or dropping whole silent frames in pauses (bridge/audio/cushion.py), so neither a clock
that runs fast or slow nor a stall leaves the call with more delay than it started with.

A talkspurt's last partial frame, and what the resampler still holds of it, go out as soon as
the carrier is about to run out of what came before and no more audio came: held back, they
would play glued to the start of the next utterance seconds later.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bridge.audio.carrier_playhead import CarrierPlayhead
from bridge.audio.clock_rate import ClockRateEstimator
from bridge.audio.converter import Converter
from bridge.audio.cushion import Cushion
from bridge.audio.formats import AudioFormat
from bridge.audio.framer import Reframer
from bridge.audio.levels import apply_gain, db_to_gain, is_silent
from bridge.audio.mixer import Ducking, OriginalMixer

FRAME_MS = 20
EPSILON_S = 1e-6  # deadlines met to within a microsecond are met (float rounding)
# With the original under the translation: when no original frame came for this long, waiting
# translation goes out alone rather than wait for a carrier that stalled or a leg that is gone.
ORIGINAL_STALE_S = 2 * FRAME_MS / 1000
MIXED_CUSHION_S = 3 * FRAME_MS / 1000  # what the carrier holds of a mixed original, +- a frame
MIXED_CUSHION_WINDOW_S = 1.0


@dataclass(slots=True)
class PlayoutStats:
    frames_queued: int = 0
    frames_sent: int = 0  # including silent frames added in pauses
    frames_dropped: int = 0  # oldest frames dropped because the queue was full
    frames_cleared: int = 0  # dropped on purpose (clear)
    underflows: int = 0  # the carrier ran dry mid-speech (by its own account)
    frames_heard: int = 0  # confirmed by the carrier's mark echoes
    tails_flushed: int = 0  # talkspurt ends sent without waiting for more audio


class PlayoutBuffer:
    def __init__(
        self,
        carrier_format: AudioFormat,
        *,
        lead_ms: int = 200,
        prebuffer_ms: int = 80,
        max_queue_ms: int = 20_000,
        mark_every_ms: int = 500,
        underflow_window_s: float = 1.0,
        marks: bool = True,
        now: Callable[[], float] = time.monotonic,
        on_latency: Callable[[float], None] | None = None,
    ) -> None:
        """`marks`: the carrier echoes marks (else what was sent counts as heard, and only the
        carrier's clock rate corrects the estimate of what it holds)."""
        self.carrier_format = carrier_format
        self.stats = PlayoutStats()
        self.marks = marks
        self.clock_rate = ClockRateEstimator()  # fed with the carrier's inbound audio
        self._frame_s = FRAME_MS / 1000
        self._lead_s = lead_ms / 1000
        self._framer = Reframer(carrier_format, FRAME_MS)
        self._silence = carrier_format.silence(self._framer.frame_bytes)
        self._converters: dict[AudioFormat, Converter] = {}
        self._queue: deque[bytes] = deque()
        self._max_frames = max(1, max_queue_ms // FRAME_MS)
        self._playhead = CarrierPlayhead(self._frame_s)
        self._now = now
        # Jitter buffer: a talkspurt starts playing this long after its first audio arrived, so
        # the carrier holds a cushion that much larger than the audio that has arrived. Without
        # it, a chunk arriving a few ms late leaves the carrier nothing to play and the listener
        # hears a hole mid-word. Time, not a frame count: audio arrives in 100 ms chunks, so one
        # chunk would satisfy any count and buy no cushion at all.
        self._prebuffer_s = prebuffer_ms / 1000
        self._cushion = Cushion(self._prebuffer_s, self._frame_s)
        self._first_queued_at = 0.0
        self._last_push_at = 0.0
        self._tail_held = False  # a partial frame or resampler history awaits more audio
        self._last_sent = b""
        # Outbound latency per pushed chunk: (queue position of its first frame, arrival time).
        self._on_latency = on_latency
        self._arrivals: deque[tuple[int, float]] = deque()
        self._removed = 0  # frames that left the queue: sent, dropped or cleared
        self._mark_every = max(1, mark_every_ms // FRAME_MS)
        self._underflow_window = underflow_window_s
        self._since_mark = 0
        self._generation = 0  # bumped by clear(): echoes of older marks prove nothing
        self._generation_base = 0  # frames_sent when the generation began
        self._gain = 1.0  # ducking: applied to frames as they leave
        self._gain_target = 1.0
        self._ducked_silence = 0  # silent frames in a row while ducked
        # The other party's own voice under the translation (mix_original); None: not mixed.
        self.mixer: OriginalMixer | None = None
        self._original_converters: dict[AudioFormat, Converter] = {}
        self._original_framer = Reframer(carrier_format, FRAME_MS)
        self._last_original_at = float("-inf")

    @property
    def queued_frames(self) -> int:
        return len(self._queue)

    @property
    def frames_inserted(self) -> int:
        return self._cushion.stats.frames_inserted

    @property
    def frames_compacted(self) -> int:
        return self._cushion.stats.frames_compacted

    def push(self, fmt: AudioFormat, data: bytes) -> None:
        """Adds audio in `fmt` (converted here with one streaming converter per source format)."""
        converter = self._converters.get(fmt)
        if converter is None:
            converter = self._converters[fmt] = Converter(fmt, self.carrier_format)
        now = self._now()
        self._last_push_at = now
        framer = self._framer
        frames = framer.push(converter.convert(data))
        self._tail_held = framer.pending_bytes > 0 or converter.held_s > 0
        if not frames:
            return
        if self.mixer is not None:
            self.mixer.translation(frames, now)  # they leave riding on the original
        else:
            self._enqueue(frames, now)

    def mix_original(self, ducking: Ducking) -> None:
        """From now on the other party's own voice (`push_original`) plays continuously, with
        the translation mixed over it and the original ducked under it (bridge/audio/mixer.py)."""
        self.mixer = OriginalMixer(self.carrier_format, ducking, self._prebuffer_s)
        # The original is not jitter-buffered like the translation (whose prebuffer is the
        # mixer's): the carrier holds 40-80 ms of it, enough for the jitter of its arrival and
        # for a carrier clock faster than the speaker's. Delay a stall or a burst left there is
        # shed in the original's next pause, judged over a short window, since its frames
        # arrive every 20 ms.
        self._cushion = Cushion(MIXED_CUSHION_S, self._frame_s, window_s=MIXED_CUSHION_WINDOW_S)

    def push_original(self, fmt: AudioFormat, data: bytes) -> None:
        """The other party's own voice as it arrives (only with `mix_original`): each whole
        frame is queued at once, carrying the next waiting translation frame."""
        mixer = self.mixer
        if mixer is None:
            return
        converter = self._original_converters.get(fmt)
        if converter is None:
            converter = self._original_converters[fmt] = Converter(fmt, self.carrier_format)
        now = self._now()
        self._last_original_at = now
        if self._tail_held and now - self._last_push_at >= self._frame_s:
            self._flush_tail(now)  # the translation's last partial frame rides on this one
        for frame in self._original_framer.push(converter.convert(data)):
            mixed, arrived_at = mixer.original(frame, now)
            self._enqueue([mixed], now, arrived_at=arrived_at)

    def _enqueue(
        self,
        frames: list[bytes],
        now: float,
        *,
        tail: bool = False,
        arrived_at: float | None = None,
    ) -> None:
        """`arrived_at`: with the original mixed in, when the translation chunk these frames
        start arrived (None: they carry none, so no latency to measure)."""
        queue = self._queue
        if not queue:
            self._first_queued_at = now
        if not tail:  # a tail's wait says nothing about the next talkspurt's
            ahead = self._playhead.buffered_s(now) + len(queue) * self._frame_s
            if ahead <= 0:
                self._cushion.restart()  # a talkspurt starts: the prebuffer sets the wait
            else:
                self._cushion.arrival(ahead, now)
        arrival = now if self.mixer is None else arrived_at
        if self._on_latency is not None and arrival is not None:
            self._arrivals.append((self._removed + len(queue), arrival))
        queue.extend(frames)
        self.stats.frames_queued += len(frames)
        overflow = len(queue) - self._max_frames
        if overflow > 0:  # keep the newest: a listener would rather skip than fall behind
            for _ in range(overflow):
                queue.popleft()
            self.stats.frames_dropped += overflow
            self._removed += overflow
            while self._arrivals and self._arrivals[0][0] < self._removed:
                self._arrivals.popleft()  # dropped, never played: no latency to report

    def observe_inbound(self, carrier_s: float, now: float) -> None:
        """The carrier has sent `carrier_s` seconds of audio by `now` (its clock's rate)."""
        self.clock_rate.observe(carrier_s, now)

    def wait_before_next(self) -> float | None:
        """Seconds until a frame (or a talkspurt's tail) may be sent; None: wait for audio."""
        return self._wait(self._now())

    def _wait(self, now: float) -> float | None:
        playhead = self._playhead
        if not self._queue and self.mixer is not None:
            if not (self.mixer.pending or self._tail_held):
                return None
            # Translation waits for original frames to carry it, unless they stopped coming.
            return max(0.0, self._last_original_at + ORIGINAL_STALE_S - now)
        if not self._queue:
            if not self._tail_held:
                return None
            # The tail goes once no audio came for a frame and the carrier is about to run out
            # of what came before it; with the carrier idle, once what is held would have
            # played out and the prebuffer's allowance for lateness has passed too.
            runs_out = playhead.runs_out_at()
            due = self._last_push_at + self._frame_s
            if runs_out is not None and runs_out > self._last_push_at:
                due = max(due, runs_out - self._frame_s)
            else:
                due = max(due, self._last_push_at + self._held_s() + self._prebuffer_s)
            return max(0.0, due - now)
        runs_out = playhead.runs_out_at()
        if runs_out is None or runs_out <= now:  # the carrier has nothing left: a talkspurt starts
            if self.mixer is None:
                return max(0.0, self._first_queued_at + self._prebuffer_s - now)
            # The original waits until the carrier can start with its cushion (two frames more
            # arrived, or came at once after a stall), not for the translation's prebuffer
            # (that was the mixer's to wait).
            if len(self._queue) * self._frame_s >= MIXED_CUSHION_S - self._frame_s:
                return 0.0
            return max(0.0, self._first_queued_at + MIXED_CUSHION_S - self._frame_s - now)
        # The next frame may go once it fits: the carrier then holds at most `lead`, the frame
        # it is playing included (with a lead under one frame, one frame at a time).
        return max(0.0, runs_out - max(self._lead_s - self._frame_s, 0.0) - now)

    def take_due(self) -> tuple[list[bytes], str | None]:
        """Frames that may be sent now, and the name of a mark to send after them (or None)."""
        now = self._now()
        wait = self._wait(now)
        if wait is None or wait > 0:
            return [], None
        if not self._queue:
            self._flush_tail(now)
            if self.mixer is not None:  # the original stopped coming: translation goes alone
                for frame, arrived_at in self.mixer.translation_alone():
                    self._enqueue([frame], now, arrived_at=arrived_at)
            if not self._queue:
                return [], None
        playhead = self._playhead
        playhead.rate = rate = self.clock_rate.rate
        spare = self._lead_s - playhead.buffered_s(now) + EPSILON_S  # room at the carrier
        room = max(1, int(spare / (self._frame_s / rate)))  # at least the frame that was due
        frames = self._take(min(room, len(self._queue)))
        if not frames:
            return [], None
        idle = playhead.on_sent(len(frames), now)
        if self._frame_s / 2 < idle < self._underflow_window and self._ran_dry_mid_speech():
            self.stats.underflows += 1
        if idle > 0 or self.stats.frames_sent == 0:
            self._talkspurt_starts()
        self._last_sent = frames[-1]
        self.stats.frames_sent += len(frames)
        self._observe_latency(now)
        self._since_mark += len(frames)
        if self._since_mark < self._mark_every:
            return frames, None
        return frames, self.final_mark()

    def _held_s(self) -> float:
        held = self._framer.pending_bytes / self.carrier_format.bytes_per_second
        return held + sum(converter.held_s for converter in self._converters.values())

    def _ran_dry_mid_speech(self) -> bool:
        """The carrier went idle after a voiced frame: a hole, not the end of a talkspurt."""
        return bool(self._last_sent) and not is_silent(self._last_sent, self.carrier_format)

    def _take(self, count: int) -> list[bytes]:
        """Up to `count` frames off the queue, settling what the cushion is owed in pauses."""
        queue, cushion = self._queue, self._cushion
        if count <= 0:
            return []
        if cushion.owed == 0 and self._gain == 1.0 == self._gain_target:
            frames = [queue.popleft() for _ in range(count)]
            self._removed += count
            return frames
        frames = []
        fmt = self.carrier_format
        while len(frames) < count and queue:
            frame = queue.popleft()
            self._removed += 1
            if cushion.owed and cushion.in_pause(is_silent(frame, fmt)):
                if cushion.owed < 0:
                    cushion.settled(-1)
                    continue  # shed: this silent frame is not played
                cushion.settled(1)
                frames.append(self._silence)
            frames.append(self._with_gain(frame))
        return frames

    def _with_gain(self, frame: bytes) -> bytes:
        start, end = self._gain, self._gain_target
        if start == 1.0 == end:
            return frame
        self._gain = end
        if end != 1.0:  # ducked: until the translation pauses (that utterance is over)
            self._ducked_silence = self._ducked_silence + 1 if self._silent(frame) else 0
            if self._ducked_silence > self._cushion.pause_frames:
                self._gain_target, self._ducked_silence = 1.0, 0
        return apply_gain(frame, self.carrier_format, start, end)

    def _silent(self, frame: bytes) -> bool:
        return is_silent(frame, self.carrier_format)

    def _talkspurt_starts(self) -> None:
        self._gain_target = 1.0  # a duck lasts for the rest of one translation only

    def _flush_tail(self, now: float) -> None:
        """The talkspurt ended: what the converters and the framer hold goes out now."""
        self._tail_held = False
        framer = self._framer
        frames: list[bytes] = []
        for converter in self._converters.values():
            frames += framer.push(converter.flush())
        last = framer.flush(pad=True)
        if last is not None:
            frames.append(last)
        if frames and self.mixer is not None:
            self.stats.tails_flushed += 1
            self.mixer.translation(frames)
        elif frames:
            self.stats.tails_flushed += 1
            self._enqueue(frames, now, tail=True)
            self._first_queued_at = now - self._prebuffer_s  # no prebuffer for a tail

    def final_mark(self) -> str | None:
        """A mark covering everything sent so far that no mark covers yet (None if nothing)."""
        if not self._since_mark:
            return None
        self._since_mark = 0
        if not self.marks:  # no echo will come: count what was sent as heard (base.py explains)
            self.stats.frames_heard = self.stats.frames_sent
            return None
        return f"{self._generation}:{self.stats.frames_sent}"

    def _observe_latency(self, now: float) -> None:
        """Chunks whose first frame just left: how long they waited here."""
        arrivals = self._arrivals
        while arrivals and arrivals[0][0] < self._removed:
            _, arrived = arrivals.popleft()
            if self._on_latency is not None:
                self._on_latency(now - arrived)

    def mark_played(self, name: str) -> None:
        generation, _, frames = name.partition(":")
        if generation != str(self._generation) or not frames.isdigit():
            return
        heard = int(frames)
        self.stats.frames_heard = max(self.stats.frames_heard, heard)
        self._playhead.on_played(heard - self._generation_base, self._now())

    def duck(self, db: float) -> None:
        """Lowers what is still to play of the current translation by `db` (a negative
        figure), ramped over one frame; after its next pause (or talkspurt end) the
        translation plays at full level again."""
        self._gain_target = db_to_gain(db)

    def clear(self) -> int:
        """Drops everything queued here; the caller also tells the carrier (`clear`). The
        original, where it is mixed in, plays on."""
        dropped = len(self._queue) + (self.mixer.clear() if self.mixer is not None else 0)
        self._queue.clear()
        self._removed += dropped
        self._arrivals.clear()
        self._framer.clear()
        self._tail_held = False
        for converter in self._converters.values():
            converter.reset()
        self._playhead.reset()
        self._cushion.restart()
        self._generation += 1
        self._generation_base = self.stats.frames_sent
        self._since_mark = 0
        self._last_sent = b""
        self.stats.frames_cleared += dropped
        return dropped

    def buffered_at_carrier_s(self) -> float:
        return self._playhead.buffered_s(self._now())
