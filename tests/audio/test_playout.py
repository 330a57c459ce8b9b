from __future__ import annotations

import numpy as np

from bridge.audio.formats import MULAW_8K, PCM16_16K
from bridge.audio.playout import PlayoutBuffer


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


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
    buffer = PlayoutBuffer(MULAW_8K, lead_ms=200, now=clock)
    buffer.push(MULAW_8K, MULAW_8K.silence(8000))  # one second arrives at once
    frames, _ = buffer.take_due()
    assert len(frames) == 11  # the frame playing now plus 200 ms
    assert buffer.buffered_at_carrier_s() <= 0.22 + 1e-9
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
    buffer = PlayoutBuffer(MULAW_8K, lead_ms=0, now=clock)
    buffer.push(MULAW_8K, MULAW_8K.silence(160))
    buffer.take_due()
    clock.now += 0.1  # translated audio arrived 80 ms late
    buffer.push(MULAW_8K, MULAW_8K.silence(160))
    buffer.take_due()
    clock.now += 5.0  # the speaker paused
    buffer.push(MULAW_8K, MULAW_8K.silence(160))
    buffer.take_due()
    assert buffer.stats.underflows == 1


def test_marks_account_for_what_was_heard_and_clear_invalidates_them() -> None:
    clock = FakeClock()
    buffer = PlayoutBuffer(MULAW_8K, lead_ms=1000, mark_every_ms=200, now=clock)
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
