"""Ten minutes of a listener hearing the other party's voice with the translation over it, in
simulated time: the original arrives every 20 ms on the speaker's carrier clock, the translation
in 100 ms bursts, the listener's carrier plays on a clock of its own and echoes marks. Nothing
may go missing (no gap once playing) and the delay may not creep (no drift), also when the two
carriers' clocks disagree."""

from __future__ import annotations

import pytest

from bridge.audio.formats import MULAW_8K
from bridge.audio.mixer import Ducking
from bridge.audio.playout import PlayoutBuffer
from bridge.sim.softphone import FRAME_BYTES, Playout
from tests.audio.playout_model import SILENT, speech_pattern, voiced_frame

FRAME_S = 0.02


@pytest.mark.parametrize("listener_ppm", [0.0, 1000.0, -1000.0])
def test_ten_minutes_mixed_have_no_gaps_and_no_drift(listener_ppm: float) -> None:
    seconds = 600.0
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
    gaps = 0
    held_ms: list[tuple[float, float]] = []
    wake: float | None = 0.0
    while now < seconds:
        now = min(t for t in (next_original, next_chunk, next_tick, wake) if t is not None)
        if now == next_original:
            buffer.push_original(MULAW_8K, voiced_frame(originals) if talks(originals) else SILENT)
            originals += 1
            next_original = originals * FRAME_S
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
                gaps += 1
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

    assert gaps == 0
    mixer = buffer.mixer
    assert mixer is not None
    assert mixer.stats.frames_mixed == pushed_translation - mixer.pending  # none lost
    assert mixer.stats.translation_alone == 0  # the original never stalled here
    first_minute = max(ms for t, ms in held_ms if 1.0 < t < 60.0)
    last_minute = max(ms for t, ms in held_ms if t > seconds - 60.0)
    assert last_minute <= first_minute + 20  # what waits to be heard has not grown: no drift
