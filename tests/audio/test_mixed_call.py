"""Ten minutes of a listener hearing the other party's voice with the translation over it, in
simulated time: the original arrives every 20 ms on the speaker's carrier clock, the translation
in 100 ms bursts, the listener's carrier plays on a clock of its own and echoes marks. Nothing
may go missing (no gap once playing) and the delay may not creep (no drift), also when the two
carriers' clocks disagree."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bridge.audio.formats import MULAW_8K
from bridge.audio.mixer import Ducking
from bridge.audio.playout import PlayoutBuffer
from bridge.sim.softphone import FRAME_BYTES, Playout
from tests.audio.playout_model import SILENT, speech_pattern, voiced_frame

FRAME_S = 0.02
STALL_S = 0.15


@dataclass
class MixedRun:
    buffer: PlayoutBuffer
    gaps: list[float]  # when, after the first second, the listener's carrier had nothing
    pushed_translation: int  # frames
    held_ms: list[tuple[float, float]]  # (when, what waited to be heard: carrier + our queue)

    def most_held_ms(self, start_s: float, end_s: float) -> float:
        return max(ms for t, ms in self.held_ms if start_s < t < end_s)


def mixed_call(
    seconds: float, listener_ppm: float = 0.0, stall_at: float | None = None
) -> MixedRun:
    """`stall_at`: the speaker's carrier stalls there for 150 ms, then delivers what it held
    at once (as a carrier's media server does after a hiccup)."""
    now = 0.0
    buffer = PlayoutBuffer(MULAW_8K, now=lambda: now)
    buffer.mix_original(Ducking(-18))
    speaker = Playout()  # the listener's carrier loudspeaker
    talks = speech_pattern(3.0, 1.0)  # the other party: 3 s of speech, 1 s pause
    translated = speech_pattern(2.0, 2.0)  # the translation's utterances
    tick_period = FRAME_S / (1 + listener_ppm * 1e-6)
    next_original, originals = 0.0, 0
    next_chunk, chunks = 0.013, 0  # 100 ms translation chunks, off the frame grid
    next_tick, ticks = tick_period / 2, 0
    pushed_translation = 0
    gaps: list[float] = []
    held_ms: list[tuple[float, float]] = []
    wake: float | None = 0.0
    while now < seconds:
        now = min(t for t in (next_original, next_chunk, next_tick, wake) if t is not None)
        if now == next_original:
            buffer.push_original(MULAW_8K, voiced_frame(originals) if talks(originals) else SILENT)
            originals += 1
            next_original = originals * FRAME_S
            if stall_at is not None and stall_at <= next_original < stall_at + STALL_S:
                next_original = stall_at + STALL_S  # the frames due meanwhile come at once
        if now == next_chunk:
            first = chunks * 5
            audio = b"".join(voiced_frame(i) for i in range(first, first + 5) if translated(i))
            if audio:
                buffer.push(MULAW_8K, audio)
                pushed_translation += len(audio) // FRAME_BYTES
            chunks += 1
            next_chunk = 0.013 + chunks * 0.1
        if now == next_tick:
            _, played, echoes = speaker.tick()
            if now > 1.0 and played < FRAME_BYTES:
                gaps.append(now)
            held_ms.append((now, speaker.queued_bytes / 8 + buffer.queued_frames * 20))
            buffer.observe_inbound((ticks + 1) * FRAME_S, now)
            for name in echoes:
                buffer.mark_played(name)
            ticks += 1
            next_tick = tick_period / 2 + ticks * tick_period
        wait = buffer.wait_before_next()
        while wait == 0:
            frames, mark = buffer.take_due()
            if not frames and mark is None:
                break
            for frame in frames:
                speaker.push_audio(frame)
            if mark is not None:
                for name in speaker.push_mark(mark):
                    buffer.mark_played(name)
            wait = buffer.wait_before_next()
        wake = None if wait is None else now + wait
    return MixedRun(buffer, gaps, pushed_translation, held_ms)


@pytest.mark.parametrize("listener_ppm", [0.0, 1000.0, -1000.0])
def test_ten_minutes_mixed_have_no_gaps_and_no_drift(listener_ppm: float) -> None:
    seconds = 600.0
    run = mixed_call(seconds, listener_ppm)

    assert run.gaps == []
    mixer = run.buffer.mixer
    assert mixer is not None
    assert mixer.stats.frames_mixed == run.pushed_translation - mixer.pending  # none lost
    assert mixer.stats.translation_alone == 0  # the original never stalled here
    first_minute = run.most_held_ms(1.0, 60.0)
    last_minute = run.most_held_ms(seconds - 60.0, seconds)
    assert last_minute <= first_minute + 20  # what waits to be heard has not grown: no drift
    # The original is not jitter-buffered: the carrier holds a frame or two of it, never the
    # translation's 80 ms prebuffer on top.
    assert run.most_held_ms(1.0, seconds) <= 80


def test_delay_a_stall_of_the_original_left_is_shed_in_a_pause_soon_after() -> None:
    """The speaker's carrier stalls 150 ms mid-sentence and then delivers the held frames at
    once: the listener's carrier is handed them at once (waiting for nothing here), and the
    delay they now hold is shed again in a pause of the speaker's (once a second of arrivals
    has shown it is no passing burst), not kept for the call. The stall itself is heard as a
    hole: the original is live, not jitter-buffered."""
    run = mixed_call(40.0, stall_at=30.5)  # the speaker talks 28-31 s, pauses 31-32 s, ...

    assert all(30.5 < t < 30.5 + STALL_S + FRAME_S for t in run.gaps)  # the stall's own hole
    assert run.most_held_ms(30.0, 30.5) <= 80
    assert run.most_held_ms(30.6, 31.0) >= 120  # the burst went on to the carrier
    assert run.most_held_ms(35.5, 40.0) <= 80  # and was shed in the pause at 35 s
    assert run.buffer.frames_compacted >= 3
    assert run.buffer.frames_inserted <= 2
