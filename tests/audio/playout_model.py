"""A whole call's playout in simulated time: Kallglot's chunks, the bridge's `PlayoutBuffer`, and
the simulator's own carrier loudspeaker (`bridge.sim.softphone.Playout`) ticking on a clock of
its own, with mark echoes going back. Ten minutes run in about a second, so the timing claims
of the playout issue (skew, stalls, tails) are tested exactly, with no real-time flakiness; the
real-time version of the same claims runs in `make soak` (bench/soak.py).

Every voiced frame carries its index in its first two bytes (mu-law passes through the bridge
untouched), so each can be followed from when it was spoken to when the carrier played it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bridge.audio import codecs
from bridge.audio.formats import MULAW_8K, Encoding
from bridge.audio.playout import PlayoutBuffer
from bridge.sim.softphone import FRAME_BYTES, Playout

FRAME_S = 0.02
MARKER = struct.Struct(">H")
SILENT = MULAW_8K.silence(FRAME_BYTES)


def voiced_frame(index: int) -> bytes:
    """A 440 Hz frame at about -12 dBFS whose first two bytes say which frame it is."""
    t = (np.arange(FRAME_BYTES) + index * FRAME_BYTES) / 8000
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()
    frame = codecs.encode(Encoding.MULAW, pcm)
    return MARKER.pack(index % 65536) + frame[MARKER.size :]


def speech_pattern(talk_s: float, pause_s: float) -> Callable[[int], bool]:
    """Frame index -> voiced?: `talk_s` of speech, then `pause_s` of silence, repeated."""
    talk, cycle = round(talk_s / FRAME_S), round((talk_s + pause_s) / FRAME_S)
    return lambda i: i % cycle < talk


@dataclass
class Outcome:
    """What the carrier's loudspeaker did, tick by tick, and what the bridge counted."""

    buffer: PlayoutBuffer
    buffer_in_speech_ms: list[tuple[float, float]] = field(default_factory=list)  # (t, ms held)
    delays: list[tuple[float, float]] = field(default_factory=list)  # (t played, delay s)
    holes_in_speech: int = 0
    voiced_lost: int = 0

    def delay_at(self, start_s: float, end_s: float) -> float:
        """Median delay of the voiced frames played between `start_s` and `end_s`."""
        window = [d for t, d in self.delays if start_s <= t < end_s]
        return float(np.median(window))

    def buffer_range_ms(self, after_s: float) -> tuple[float, float]:
        held = [ms for t, ms in self.buffer_in_speech_ms if t >= after_s]
        return min(held), max(held)


@dataclass
class Scenario:
    seconds: float = 600.0
    carrier_ppm: float = 0.0  # the carrier's clock against ours
    source_ppm: float = 0.0  # the clock Kallglot's audio is produced on
    chunk_ms: int = 100  # Kallglot's message size
    jitter_ms: float = 5.0  # uniform 0..jitter added to each chunk's arrival
    talk_s: float = 3.0
    pause_s: float = 1.0
    carrier_stalls: tuple[tuple[float, float], ...] = ()  # (at s, for s): playback freezes
    marks: bool = True
    lead_ms: int = 200
    prebuffer_ms: int = 80
    seed: int = 7

    def run(self) -> Outcome:  # one event loop, read top to bottom
        rng = np.random.default_rng(self.seed)
        now = 0.0
        buffer = PlayoutBuffer(
            MULAW_8K,
            lead_ms=self.lead_ms,
            prebuffer_ms=self.prebuffer_ms,
            marks=self.marks,
            now=lambda: now,
        )
        speaker = Playout()
        voiced = speech_pattern(self.talk_s, self.pause_s)
        frames_per_chunk = self.chunk_ms // 20
        chunk_period = self.chunk_ms / 1000 / (1 + self.source_ppm * 1e-6)
        frame_period = FRAME_S / (1 + self.source_ppm * 1e-6)
        tick_period = FRAME_S / (1 + self.carrier_ppm * 1e-6)
        outcome = Outcome(buffer)
        next_chunk, chunk = 0.0, 0
        next_tick, tick_epoch, ticks = tick_period / 2, tick_period / 2, 0
        carrier_s = 0.0
        stalls = list(self.carrier_stalls)
        expected = 0  # next voiced index the listener should hear
        playing_speech = False
        wake: float | None = 0.0
        while now < self.seconds:
            now = min(t for t in (next_chunk, next_tick, wake) if t is not None)
            if now == next_chunk:
                first = chunk * frames_per_chunk
                audio = b"".join(
                    voiced_frame(i) if voiced(i) else SILENT
                    for i in range(first, first + frames_per_chunk)
                )
                buffer.push(MULAW_8K, audio)
                chunk += 1
                next_chunk = chunk * chunk_period + rng.uniform(0, self.jitter_ms / 1000)
            if now == next_tick and stalls and now >= stalls[0][0]:
                frozen = stalls.pop(0)[1]  # nothing plays; what it captured comes in a burst
                tick_epoch += frozen
                carrier_s += frozen
                next_tick = tick_epoch + ticks * tick_period
            elif now == next_tick:
                held_ms = speaker.queued_bytes / 8
                frame, played, echoes = speaker.tick()
                carrier_s += FRAME_S
                buffer.observe_inbound(carrier_s, now)
                is_voiced = played == FRAME_BYTES and frame != SILENT
                if playing_speech:
                    outcome.buffer_in_speech_ms.append((now, held_ms))
                    if played < FRAME_BYTES:
                        outcome.holes_in_speech += 1
                if is_voiced:
                    index = MARKER.unpack_from(frame)[0]
                    outcome.voiced_lost += sum(map(voiced, range(expected, index)))
                    expected = index + 1
                    outcome.delays.append((now, now - index * frame_period))
                playing_speech = is_voiced
                for name in echoes:
                    buffer.mark_played(name)
                ticks += 1
                next_tick = tick_epoch + ticks * tick_period
            wait = buffer.wait_before_next()
            while wait == 0:
                frames, mark = buffer.take_due()
                if not frames and mark is None:
                    break
                for sent in frames:
                    speaker.push_audio(sent)
                if mark is not None:
                    for name in speaker.push_mark(mark):
                        buffer.mark_played(name)
                wait = buffer.wait_before_next()
            wake = None if wait is None else now + wait
        return outcome
