from __future__ import annotations

import audioop
import itertools

import numpy as np

from bridge.audio import codecs
from bridge.audio.formats import MULAW_8K, PCM16_16K, AudioFormat, Encoding
from bridge.audio.playout import PlayoutBuffer


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def voiced(nbytes: int) -> bytes:
    """`nbytes` of a 440 Hz tone at -12 dBFS: speech, as far as playout can tell."""
    t = np.arange(nbytes) / 8000
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()
    return codecs.encode(Encoding.MULAW, pcm)


def drain(buffer: PlayoutBuffer, clock: FakeClock) -> list[bytes]:
    """Plays everything out the way the async runner does, with the fake clock."""
    sent: list[bytes] = []
    while (wait := buffer.wait_before_next()) is not None:
        clock.now += wait
        frames, _ = buffer.take_due()
        sent += frames
    return sent


def test_chunks_come_out_as_exact_frames_in_order() -> None:
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, lead_ms=200, now=clock)
    stream = bytes(np.random.default_rng(3).integers(0, 255, 8000, dtype=np.uint8))
    for start in range(0, 8000, 800):
        buffer.push(MULAW_8K, stream[start : start + 800])
    frames = drain(buffer, clock)
    assert [len(f) for f in frames] == [160] * 50
    assert b"".join(frames) == stream
    assert buffer.stats.underflows == 0


def test_lead_bounds_what_is_sent_ahead_of_real_time() -> None:
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, lead_ms=200, prebuffer_ms=0, now=clock)
    buffer.push(MULAW_8K, MULAW_8K.silence(8000))  # one second arrives at once
    frames, _ = buffer.take_due()
    assert len(frames) == 10  # 200 ms, the frame playing now included
    assert buffer.buffered_at_carrier_s() <= 0.20 + 1e-9
    assert abs(buffer.wait_before_next() - 0.02) < 1e-9  # type: ignore[operator]


def test_wideband_input_is_resampled_to_the_carrier_format() -> None:
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, now=clock)
    tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.int16)
    buffer.push(PCM16_16K, tone.tobytes())
    frames = drain(buffer, clock)
    assert 45 <= len(frames) <= 50  # the resampler's tail comes out with later audio
    assert all(len(f) == 160 for f in frames)


def test_full_queue_drops_the_oldest_and_counts_it() -> None:
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, max_queue_ms=1000, now=clock)
    buffer.push(MULAW_8K, bytes(range(50)) * 160)  # one second of distinct bytes
    buffer.push(MULAW_8K, bytes([99]) * 1600)  # 200 ms more than fits
    assert buffer.queued_frames == 50
    assert buffer.stats.frames_dropped == 10
    played = b"".join(drain(buffer, clock))
    assert played == (bytes(range(50)) * 160)[1600:] + bytes([99]) * 1600


def test_a_gap_mid_stream_is_an_underflow_a_long_pause_is_not() -> None:
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, lead_ms=0, prebuffer_ms=0, now=clock)
    buffer.push(MULAW_8K, voiced(160))
    buffer.take_due()
    clock.now += 0.1  # translated audio arrived 80 ms late
    buffer.push(MULAW_8K, voiced(160))
    buffer.take_due()
    clock.now += 5.0  # the speaker paused
    buffer.push(MULAW_8K, voiced(160))
    buffer.take_due()
    assert buffer.stats.underflows == 1


def test_marks_account_for_what_was_heard_and_clear_invalidates_them() -> None:
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, lead_ms=1000, prebuffer_ms=0, mark_every_ms=200, now=clock)
    buffer.push(MULAW_8K, MULAW_8K.silence(1600))  # 10 frames
    frames, mark = buffer.take_due()
    assert len(frames) == 10
    assert mark == "0:10"
    buffer.mark_played(mark)
    assert buffer.stats.frames_heard == 10

    buffer.push(MULAW_8K, MULAW_8K.silence(800))
    frames, _ = buffer.take_due()
    tail = buffer.final_mark()
    assert tail == "0:15"
    assert buffer.clear() == 0
    buffer.mark_played(tail)  # echoed because of the clear: not proof it was heard
    assert buffer.stats.frames_heard == 10
    assert buffer.final_mark() is None


def play_jittery_chunks(prebuffer_ms: int) -> PlayoutBuffer:
    """100 ms chunks arriving every 100 ms +- 30 ms, played out as the async runner would."""
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, lead_ms=200, prebuffer_ms=prebuffer_ms, now=clock)
    jitter = [0.0, 0.03, -0.02, 0.025, -0.03, 0.01, 0.03, -0.01] * 10
    arrivals = [clock.now + 0.1 * k + j for k, j in enumerate(jitter)]
    for arrival in arrivals:
        # Send whatever is due before this chunk arrives, then take the chunk.
        while (wait := buffer.wait_before_next()) is not None and clock.now + wait <= arrival:
            clock.now += wait
            buffer.take_due()
        clock.now = arrival
        buffer.push(MULAW_8K, voiced(800))
    drain(buffer, clock)
    return buffer


def test_a_small_prebuffer_absorbs_arrival_jitter() -> None:
    # Without a cushion the first late chunk leaves a hole (after which the carrier's playhead
    # has absorbed that lateness); with 60 ms queued before starting, no hole at all.
    assert play_jittery_chunks(prebuffer_ms=0).stats.underflows >= 1
    smoothed = play_jittery_chunks(prebuffer_ms=60)
    assert smoothed.stats.underflows == 0
    assert smoothed.stats.frames_sent == 400


def test_a_talkspurt_starts_prebuffer_ms_after_its_first_audio() -> None:
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, lead_ms=200, prebuffer_ms=60, now=clock)
    buffer.push(MULAW_8K, MULAW_8K.silence(800))
    assert buffer.take_due() == ([], None)
    clock.now += 0.04
    buffer.push(MULAW_8K, MULAW_8K.silence(800))  # more audio does not start it early
    assert abs(buffer.wait_before_next() - 0.02) < 1e-9  # type: ignore[operator]
    clock.now += 0.02
    assert len(buffer.take_due()[0]) == 10  # then everything within the lead goes at once
    assert buffer.wait_before_next() is None


def test_each_chunk_reports_how_long_it_waited_for_its_first_frame_to_go() -> None:
    clock = FakeClock()
    waited: list[float] = []
    buffer = PlayoutBuffer(
        MULAW_8K, lead_ms=100, prebuffer_ms=60, now=clock, on_latency=waited.append
    )
    buffer.push(MULAW_8K, MULAW_8K.silence(800))
    clock.now += 0.06  # the jitter buffer holds the talkspurt's start
    buffer.take_due()
    clock.now += 0.01
    buffer.push(
        MULAW_8K, MULAW_8K.silence(800)
    )  # the carrier holds 90 ms: 10 ms until a frame fits
    drain(buffer, clock)
    assert [round(w, 3) for w in waited] == [0.06, 0.01]


def play_talkspurt(
    fmt: AudioFormat, chunks: list[bytes]
) -> tuple[PlayoutBuffer, list[bytes], list[float]]:
    """Chunks arriving every 100 ms, played out; also what the carrier held before each send."""
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, now=clock)
    sent: list[bytes] = []
    held: list[float] = []
    arrivals = [clock.now + 0.1 * k for k in range(len(chunks))]
    for arrival, chunk in zip(arrivals, chunks, strict=True):
        while (wait := buffer.wait_before_next()) is not None and clock.now + wait <= arrival:
            clock.now += wait
            before = buffer.buffered_at_carrier_s()
            frames, _ = buffer.take_due()
            if frames:
                sent += frames
                held.append(before)
        clock.now = arrival
        buffer.push(fmt, chunk)
    while (wait := buffer.wait_before_next()) is not None:
        clock.now += wait
        before = buffer.buffered_at_carrier_s()
        frames, _ = buffer.take_due()
        if frames:
            sent += frames
            held.append(before)
    return buffer, sent, held


def test_an_utterance_that_is_not_whole_frames_ends_without_waiting_for_the_next() -> None:
    utterance = voiced(3 * 760)  # three 95 ms messages: 14 frames and 40 bytes
    buffer, sent, held = play_talkspurt(MULAW_8K, [utterance[i : i + 760] for i in (0, 760, 1520)])
    assert b"".join(sent) == utterance + MULAW_8K.silence(120)  # the tail, padded with silence
    assert buffer.stats.tails_flushed == 1
    assert all(h > 0 for h in held[1:])  # the tail reached the carrier before it ran out
    assert buffer.stats.underflows == 0


def test_the_resamplers_tail_goes_out_with_the_end_of_a_wideband_utterance() -> None:
    t = np.arange(14400) / 16000  # 900 ms at 16 kHz, as the legacy protocol sends it
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).tobytes()
    chunks = [tone[i : i + 3200] for i in range(0, len(tone), 3200)]
    buffer, sent, held = play_talkspurt(PCM16_16K, chunks)
    assert len(sent) in (45, 46)  # all 900 ms (the last frame padded), nothing kept back
    assert all(h > 0 for h in held[1:])
    assert buffer.stats.tails_flushed == 1
    assert buffer.stats.underflows == 0


def test_a_duck_lowers_what_is_left_of_the_translation_and_ramps_into_it() -> None:
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, lead_ms=0, prebuffer_ms=0, now=clock)
    buffer.push(MULAW_8K, voiced(160 * 20))
    first, _ = buffer.take_due()
    buffer.duck(-20.0)
    rest = drain(buffer, clock)
    level = [audioop.rms(codecs.decode(Encoding.MULAW, f), 2) for f in first + rest]
    assert 0.4 < level[1] / level[0] < 0.8  # the ramp: one frame from full level down to -20 dB
    assert all(0.08 < lv / level[0] < 0.12 for lv in level[3:])  # -20 dB is a tenth
    assert all(b <= a * 1.05 for a, b in itertools.pairwise(level[1:]))  # never back up
