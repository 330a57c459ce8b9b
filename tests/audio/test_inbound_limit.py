"""The inbound media limit on streams as carriers really send them, and as floods do."""

from __future__ import annotations

import random

from bridge.audio.formats import AudioFormat, Encoding
from bridge.audio.inbound_limit import InboundLimit

MULAW = AudioFormat(Encoding.MULAW, 8000)
FRAME = 160  # 20 ms


def deliver(limit: InboundLimit, arrivals: list[float], size: int = FRAME) -> float | None:
    """When the limit tripped (the arrival time), or None."""
    for at in arrivals:
        if limit.check(size, at) is not None:
            return at
    return None


def test_four_hours_in_real_time_with_jitter_and_a_fast_clock_pass() -> None:
    rng = random.Random(7)
    limit = InboundLimit(MULAW, started_at=0.0)
    # 0.1 % fast (a crystal's tolerance), each frame 0..40 ms late.
    arrivals = [i * 0.02 / 1.001 + rng.uniform(0, 0.04) for i in range(4 * 3600 * 50)]
    assert deliver(limit, arrivals) is None


def test_a_backlog_delivered_at_once_after_a_ten_second_stall_passes() -> None:
    limit = InboundLimit(MULAW, started_at=0.0)
    before = [i * 0.02 for i in range(500)]  # 10 s in real time
    stalled = [20.0] * 500  # then nothing for 10 s, and those 10 s arrive at once
    after = [20.0 + i * 0.02 for i in range(1, 500)]
    assert deliver(limit, before + stalled + after) is None


def test_twice_real_time_trips_after_about_two_seconds() -> None:
    limit = InboundLimit(MULAW, started_at=0.0)
    tripped = deliver(limit, [i * 0.01 for i in range(2000)])
    assert tripped is not None
    assert 1.9 < tripped < 2.3


def test_ten_times_real_time_trips_within_a_quarter_second() -> None:
    limit = InboundLimit(MULAW, started_at=0.0)
    tripped = deliver(limit, [i * 0.002 for i in range(2000)])
    assert tripped is not None
    assert tripped < 0.25
    assert "faster than real time" in (limit.check(FRAME, tripped) or "")


def test_a_payload_over_the_maximum_is_refused_at_once() -> None:
    limit = InboundLimit(MULAW, started_at=0.0)
    assert limit.check(1600, 0.0) is None  # 200 ms: the most allowed
    reason = limit.check(12_000, 0.5)
    assert reason is not None
    assert "12000 bytes (1500 ms)" in reason
