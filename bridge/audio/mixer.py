"""The other party's own voice under the translation, for one listener (a route's
`original_under_translation_db`).

Interpreters keep the speaker faintly audible under the translation: the listener hears tone,
hesitation, and that the other person is still talking. The original arrives at its carrier's
pace, one 20 ms frame at a time; the translation arrives in bursts, faster than real time. So
each original frame leaves at once, mixed with the next translation frame if one waits: the
original is delayed by nothing, and the translation plays at the pace the original arrives.
While the translation is audible the original is lowered to the configured level; after it
falls silent (it ended, or pauses) the original is held there for `hold_ms`, then raised again
over `release_ms`, so short pauses in the translation do not pump the original up and down. Gain
only ever moves along linear ramps (a step in gain is a click).

Pure and format-neutral: frames in the listener's carrier format, decoded to 16-bit linear PCM to
mix (for mu-law, "decode, mix with numpy, re-encode"), and a limiter instead of wrap-around or
hard clipping when the two together exceed full scale.
"""

from __future__ import annotations

import audioop
from collections import deque
from dataclasses import dataclass

import numpy as np

from bridge.audio import codecs
from bridge.audio.formats import AudioFormat, Encoding
from bridge.audio.levels import SILENCE_RMS, db_to_gain, is_silent

FRAME_MS = 20
FULL_SCALE = 32767.0
LIMITER_ATTACK_SAMPLES_PER_MS = 1  # the limiter reaches its gain within ~2 ms of a peak
LIMITER_RELEASE_DB_PER_FRAME = 0.5  # then recovers at 25 dB/s


@dataclass(frozen=True, slots=True)
class Ducking:
    """How the original sits under the translation (README, "Routes")."""

    db: float  # the original's level while translation plays, e.g. -18
    hold_ms: int = 300  # the original stays down this long after the translation ends
    release_ms: int = 400  # ... then comes back up over this long
    attack_ms: int = 40  # ... and goes down over this long as the translation starts

    def __post_init__(self) -> None:
        if not -60.0 <= self.db <= 0.0:
            raise ValueError(f"the original's level is -60 to 0 dB, got {self.db}")
        for name in ("hold_ms", "release_ms", "attack_ms"):
            value = getattr(self, name)
            if not 0 <= value <= 10_000:
                raise ValueError(f"{name} is 0 to 10000 ms, got {value}")


@dataclass(slots=True)
class MixerStats:
    translation_in: int = 0  # translation frames queued
    frames_mixed: int = 0  # original frames that carried translation (audible or not)
    frames_ducked: int = 0  # original frames at less than full level
    frames_limited: int = 0  # frames the limiter lowered
    translation_alone: int = 0  # translation frames sent with no original to carry them
    translation_shed: int = 0  # silent translation frames dropped to keep its lag in bounds


@dataclass(slots=True)
class _Waiting:
    frame: bytes
    arrived_at: float | None  # set on the first frame of a pushed chunk (latency accounting)


class OriginalMixer:
    def __init__(self, fmt: AudioFormat, ducking: Ducking, prebuffer_s: float = 0.0) -> None:
        """`prebuffer_s`: a translation talkspurt starts riding on the original this long after
        its first audio arrived, so the chunks after it may come that late without leaving a
        hole in the translation (the playout's jitter buffer, for mixed audio)."""
        self.format = fmt
        self._prebuffer_s = prebuffer_s
        # Translation waiting beyond this (its prebuffer and a 100 ms chunk, and a little) is
        # delay an underrun added: shed again in its silences, as the playout's cushion does.
        self._most_waiting = round(prebuffer_s * 1000) // FRAME_MS + 8
        self._ready_at: float | None = None  # when the waiting talkspurt may start
        self.ducking = ducking
        self.stats = MixerStats()
        samples_per_ms = fmt.sample_rate / 1000
        self._samples = int(samples_per_ms * FRAME_MS)
        self._low = db_to_gain(ducking.db)
        span = 1.0 - self._low
        # Gain change per sample, down and up: the ramps' slopes (instant where the time is 0).
        self._down = span / max(1.0, ducking.attack_ms * samples_per_ms)
        self._up = span / max(1.0, ducking.release_ms * samples_per_ms)
        self._hold_frames = ducking.hold_ms // FRAME_MS
        self._held = 0  # frames the original has been held down since the translation ended
        self._gain = 1.0
        self._limit = 1.0
        attack = min(self._samples, max(1, int(2 * samples_per_ms * LIMITER_ATTACK_SAMPLES_PER_MS)))
        # Ramps across a frame and across the limiter's attack, from just above 0 to 1.
        self._ramp = np.arange(1, self._samples + 1, dtype=np.float32) / np.float32(self._samples)
        self._attack_ramp = np.arange(1, attack + 1, dtype=np.float32) / np.float32(attack)
        self._limit_release = db_to_gain(LIMITER_RELEASE_DB_PER_FRAME)
        self._waiting: deque[_Waiting] = deque()

    @property
    def pending(self) -> int:
        """Translation frames waiting for an original frame to carry them."""
        return len(self._waiting)

    def translation(self, frames: list[bytes], arrived_at: float | None = None) -> None:
        """Queues translation frames (whole frames in `format`); `arrived_at` is when the chunk
        they came in arrived (None: a talkspurt's tail, which may go at once)."""
        if frames and not self._waiting and self._ready_at is None:
            self._ready_at = (arrived_at + self._prebuffer_s) if arrived_at is not None else 0.0
        self.stats.translation_in += len(frames)
        for i, frame in enumerate(frames):
            self._waiting.append(_Waiting(frame, arrived_at if i == 0 else None))

    def original(self, frame: bytes, now: float = 0.0) -> tuple[bytes, float | None]:
        """The frame to send for one frame of the original (arrived at `now`): mixed with the
        next translation frame if one waits (and its talkspurt's prebuffer has passed), at the
        original's current gain. Also, where it carries a translation chunk's first frame,
        `now`: the bridge's added latency for that chunk counts from here, since until then the
        translation waited in step with the original, as it waits in a carrier's buffer
        without the original (None otherwise)."""
        waiting = self._next_translation(now)
        start = self._gain
        # The translation frame as linear PCM, decoded once for the level check and the mix.
        translation = self._linear(waiting.frame) if waiting is not None else None
        if translation is not None and audioop.rms(translation, 2) >= SILENCE_RMS:
            self._held = 0
            target = self._low
        elif self._held < self._hold_frames and start < 1.0:
            self._held += 1
            target = start
        else:
            target = 1.0
        end = self._ramp_end(start, target)
        self._gain = end
        if end < 1.0 or start < 1.0:
            self.stats.frames_ducked += 1
        if waiting is None and start == end == 1.0:
            return frame, None  # untouched: byte for byte what the other party said
        carries_chunk = waiting is not None and waiting.arrived_at is not None
        if waiting is not None:
            self.stats.frames_mixed += 1
        if start == end:  # steady (most frames): audioop, unless the sum could clip
            fast = self._steady(frame, translation, start)
            if fast is not None:
                return fast, now if carries_chunk else None
        mixed = self._pcm(frame) * self._gains(start, end)
        if translation is not None:
            mixed += np.frombuffer(translation, np.int16)
        return self._encode(self._limited(mixed)), now if carries_chunk else None

    def _steady(self, frame: bytes, translation: bytes | None, gain: float) -> bytes | None:
        """One frame at a constant gain (`translation` in linear PCM, if any), with audioop (a few microseconds, where numpy's
        per-call overhead costs ten): None when the limiter is needed (the sum reached full
        scale, or the limiter is still releasing), for the numpy path."""
        original = self._linear(frame)
        scaled = audioop.mul(original, 2, gain)
        if translation is None:
            return self._from_linear(scaled)
        if self._limit < 1.0:
            return None  # the limiter is still releasing
        summed = audioop.add(scaled, translation, 2)  # saturates at the rails
        low, high = audioop.minmax(summed, 2)
        if low <= -32768 or high >= FULL_SCALE:
            return None  # it clipped: the limiter's path
        return self._from_linear(summed)

    def _linear(self, frame: bytes) -> bytes:
        if self.format.encoding is Encoding.PCM16LE:
            return frame
        return codecs.decode(self.format.encoding, frame)

    def _from_linear(self, pcm: bytes) -> bytes:
        if self.format.encoding is Encoding.PCM16LE:
            return pcm
        return codecs.encode(self.format.encoding, pcm)

    def _next_translation(self, now: float) -> _Waiting | None:
        ready_at = self._ready_at
        if not self._waiting or ready_at is None or now < ready_at:
            return None
        waiting = self._waiting.popleft()
        while len(self._waiting) >= self._most_waiting and is_silent(waiting.frame, self.format):
            self.stats.translation_shed += 1
            waiting = self._waiting.popleft()
        if not self._waiting:  # the talkspurt ran out: the next one waits its prebuffer
            self._ready_at = None
        return waiting

    def translation_alone(self) -> list[tuple[bytes, float | None]]:
        """Every waiting translation frame as it is: for when the original stops arriving (its
        carrier stalled, or its party's stream is gone), so the translation is not held up."""
        frames = [(w.frame, w.arrived_at) for w in self._waiting]
        self._waiting.clear()
        self._ready_at = None
        self.stats.translation_alone += len(frames)
        self._held = 0
        return frames

    def clear(self) -> int:
        """Drops the waiting translation (a barge-in's clear); the original plays on and comes
        back up after the hold."""
        dropped = len(self._waiting)
        self._waiting.clear()
        self._ready_at = None
        return dropped

    def _ramp_end(self, start: float, target: float) -> float:
        if target < start:
            return max(target, start - self._down * self._samples)
        return min(target, start + self._up * self._samples)

    def _gains(self, start: float, end: float) -> np.ndarray | float:
        """From `start` to `end` across one frame, linearly (the last sample at `end`)."""
        if start == end:
            return start
        ramp: np.ndarray = start + np.float32(end - start) * self._ramp
        return ramp

    def _limited(self, mixed: np.ndarray) -> np.ndarray:
        """`mixed` within full scale: a gain that drops to meet a peak within ~2 ms and
        recovers slowly, and a clip for the samples of that first ramp only."""
        peak = max(float(mixed.max()), -float(mixed.min())) if mixed.size else 0.0
        limit = self._limit
        needed = FULL_SCALE / peak if peak > FULL_SCALE else 1.0
        if needed < limit:
            self.stats.frames_limited += 1
            gains = np.full(mixed.size, needed, dtype=np.float32)
            attack = self._attack_ramp
            gains[: attack.size] = limit + np.float32(needed - limit) * attack
            self._limit = needed
            mixed *= gains
        elif limit < 1.0:
            new = min(1.0, limit * self._limit_release, needed)
            mixed *= self._gains(limit, new)
            self._limit = new
        else:
            return mixed  # within full scale, nothing to undo
        clipped: np.ndarray = np.clip(mixed, -32768.0, FULL_SCALE, out=mixed)
        return clipped

    def _pcm(self, frame: bytes) -> np.ndarray:
        return np.frombuffer(self._linear(frame), np.int16).astype(np.float32)

    def _encode(self, samples: np.ndarray) -> bytes:
        return self._from_linear(np.rint(samples).astype(np.int16).tobytes())
