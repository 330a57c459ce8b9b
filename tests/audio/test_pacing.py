from __future__ import annotations

import random

from bridge.audio.pacing import PacingClock


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def play_in_real_time(
    pacing: PacingClock, clock: FakeClock, frames: int, jitter: float
) -> list[float]:
    """Sends `frames` frames, waking when told to plus some scheduler jitter; returns send times."""
    times = []
    for i in range(frames):
        clock.now += pacing.wait_before_next() + (jitter if i % 7 == 0 else 0.0)
        pacing.sent()
        times.append(clock.now)
    return times


def test_deadlines_do_not_drift_over_30000_frames() -> None:
    clock = FakeClock()
    pacing = PacingClock(frame_seconds=0.02, lead_seconds=0.1, now=clock)
    times = play_in_real_time(pacing, clock, 30_000, jitter=0.003)
    start = times[0]
    end = pacing.playhead_end
    assert end is not None
    # Ten minutes of frames end exactly ten minutes after the first one: no accumulated error.
    assert abs(end - (start + 30_000 * 0.02)) < 1e-6
    # Every frame left no later than its own deadline plus the jitter, never earlier than lead.
    for n, sent_at in enumerate(times):
        assert sent_at >= start + n * 0.02 - 0.1 - 1e-9
    assert pacing.buffered_seconds() <= 0.1 + 0.02 + 1e-9


def test_lead_lets_a_burst_go_at_once_then_waits() -> None:
    clock = FakeClock()
    pacing = PacingClock(frame_seconds=0.02, lead_seconds=0.1, now=clock)
    sent_now = 0
    while pacing.wait_before_next() == 0:
        pacing.sent()
        sent_now += 1
    assert sent_now == 6  # the frame playing now plus 100 ms of lead
    assert abs(pacing.wait_before_next() - 0.02) < 1e-9


def test_starved_carrier_restarts_the_schedule_and_reports_the_gap() -> None:
    clock = FakeClock()
    pacing = PacingClock(frame_seconds=0.02, lead_seconds=0.0, now=clock)
    assert pacing.sent() == 0.0
    clock.now += 0.5
    gap = pacing.sent()
    assert abs(gap - 0.48) < 1e-9
    assert pacing.playhead_end == clock.now + 0.02


def test_reset_forgets_what_was_queued() -> None:
    clock = FakeClock()
    pacing = PacingClock(frame_seconds=0.02, lead_seconds=1.0, now=clock)
    pacing.sent(40)
    assert abs(pacing.buffered_seconds() - 0.8) < 1e-9
    pacing.reset()
    assert pacing.buffered_seconds() == 0.0
    assert pacing.wait_before_next() == 0.0


def test_send_due_decides_as_frame_by_frame_sending_would() -> None:
    """One call per batch must let exactly the frames through that asking `wait_before_next()`
    and calling `sent()` for each would, report the same starvation, and leave the same state."""
    rng = random.Random(7)
    for _ in range(2000):
        lead, step = rng.choice([0.0, 0.06, 0.1, 0.2]), rng.choice([0.02, 0.01])
        one_clock, batch_clock = FakeClock(), FakeClock()
        one = PacingClock(frame_seconds=step, lead_seconds=lead, now=one_clock)
        batch = PacingClock(frame_seconds=step, lead_seconds=lead, now=batch_clock)
        for _ in range(rng.randint(1, 6)):
            advance = rng.choice([0.0, step, 0.013, 0.1, 0.5, rng.uniform(0, 0.3)])
            one_clock.now += advance
            batch_clock.now += advance
            limit = rng.randint(0, 30)
            count, gaps = 0, []
            while count < limit and one.wait_before_next() == 0:
                gaps.append(one.sent())
                count += 1
            assert not any(gaps[1:])  # only the first frame of a batch can find it starved
            assert batch.send_due(limit) == (count, gaps[0] if gaps else 0.0)
            assert batch.playhead_end == one.playhead_end
