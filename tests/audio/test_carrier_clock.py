"""The pieces playout follows the carrier with: its clock rate, its playhead, the cushion."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.audio.carrier_playhead import CarrierPlayhead
from bridge.audio.clock_rate import ClockRateEstimator
from bridge.audio.cushion import Cushion

FRAME_S = 0.02


@pytest.mark.parametrize("ppm", [1000, -1000, 250])
def test_the_clock_rate_comes_through_jitter_bursts_and_a_stall(ppm: int) -> None:
    rng = np.random.default_rng(1)
    estimator = ClockRateEstimator()
    tick = FRAME_S / (1 + ppm * 1e-6)
    for n in range(1, 60 * 50):
        delay = rng.exponential(0.004)  # network and event loop: never early, often late
        if 1500 <= n < 1520:  # a 400 ms stall: those frames arrive at once when it ends
            delay = 1520 * tick - n * tick
        estimator.observe(n * FRAME_S, n * tick + delay)
    assert estimator.ppm == pytest.approx(ppm, abs=15)


def test_the_clock_rate_is_nominal_until_there_is_enough_to_tell() -> None:
    estimator = ClockRateEstimator()
    for n in range(1, 150):  # three seconds
        estimator.observe(n * FRAME_S, n * FRAME_S * 1.01)
    assert estimator.rate == 1.0


def test_an_echo_behind_the_estimate_is_believed_one_ahead_only_as_far_as_a_clock_could_go() -> (
    None
):
    playhead = CarrierPlayhead(FRAME_S)
    playhead.on_sent(50, now=0.0)  # one second of audio
    playhead.on_played(20, now=0.5)  # the carrier is behind (it started late, or stalled)
    assert playhead.position(0.5) == 20
    assert playhead.buffered_s(0.5) == pytest.approx(0.6)
    playhead.on_played(50, now=0.6)  # "everything played" after 100 ms: not a real-time player
    assert playhead.position(0.6) == pytest.approx(20 + 0.1 * 1.01 / FRAME_S)


def test_a_carrier_idle_before_new_audio_counts_how_long_it_sat_dry() -> None:
    playhead = CarrierPlayhead(FRAME_S)
    assert playhead.on_sent(5, now=10.0) == 0.0  # the first send: nothing to be dry after
    assert playhead.runs_out_at() == pytest.approx(10.1)
    assert playhead.on_sent(5, now=10.05) == 0.0  # still playing: queued behind
    assert playhead.on_sent(1, now=10.5) == pytest.approx(0.3)  # ran out at 10.2
    playhead.reset()
    assert playhead.runs_out_at() is None


def test_the_cushion_sheds_at_once_but_adds_only_when_low_persists() -> None:
    cushion = Cushion(target_s=0.08, frame_s=FRAME_S)
    for k in range(12):  # two windows of waits around 200 ms: delay has built up
        cushion.arrival(0.2 + 0.001 * (k % 3), now=k * 0.2)
    assert cushion.owed == -6
    cushion.settled(-6)

    jittery = Cushion(target_s=0.08, frame_s=FRAME_S)
    for k in range(12):  # one low window (a late chunk), then normal
        jittery.arrival(0.03 if k == 2 else 0.08, now=k * 0.2)
    assert jittery.owed == 0
    for k in range(12, 60):  # low for many windows: the carrier's clock really runs fast
        jittery.arrival(0.05, now=k * 0.2)
    assert jittery.owed == 2


def test_corrections_wait_for_a_pause() -> None:
    cushion = Cushion(target_s=0.08, frame_s=FRAME_S, pause_frames=3)
    assert [cushion.in_pause(silent) for silent in (True, True, False, True, True, True, True)] == [
        False,
        False,
        False,
        False,
        False,
        False,
        True,
    ]
