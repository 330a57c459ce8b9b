"""Playout against the carrier's clock, in simulated time (tests/audio/playout_model.py): ten
minutes of a call per case, each in well under a second, exact and repeatable."""

from __future__ import annotations

import pytest

from tests.audio.playout_model import Scenario

BAND_MS = (60, 200)  # what the carrier may hold during speech (default lead and prebuffer)
TEN_MINUTES = 600.0


@pytest.mark.parametrize("marks", [True, False], ids=["marks", "timestamps-only"])
@pytest.mark.parametrize("carrier_ppm", [1000, -1000])
def test_ten_minutes_of_a_skewed_carrier_clock_keep_the_band_and_the_delay(
    carrier_ppm: int, marks: bool
) -> None:
    outcome = Scenario(seconds=TEN_MINUTES, carrier_ppm=carrier_ppm, marks=marks).run()
    low, high = outcome.buffer_range_ms(after_s=0)
    # Without marks nothing corrects the estimate's phase within a talkspurt, so the carrier
    # may now and then hold one frame more than the lead, never less than the band.
    slack = 0 if marks else 20
    assert low >= BAND_MS[0]
    assert high <= BAND_MS[1] + slack
    minute_1, minute_10 = outcome.delay_at(0, 60), outcome.delay_at(540, 600)
    assert abs(minute_10 - minute_1) <= 0.020, (minute_1, minute_10)
    assert outcome.holes_in_speech == 0
    assert outcome.voiced_lost == 0  # every correction happened in a pause
    buffer = outcome.buffer
    assert buffer.stats.underflows == 0
    # 1000 ppm of 600 s is 600 ms: 30 frames added (fast carrier) or shed (slow), in silence.
    corrected = buffer.frames_inserted if carrier_ppm > 0 else buffer.frames_compacted
    assert 27 <= corrected <= 33
    assert abs(buffer.clock_rate.ppm - carrier_ppm) < 20


def test_kallglot_and_carrier_clocks_apart_both_ways_still_hold() -> None:
    outcome = Scenario(seconds=TEN_MINUTES, carrier_ppm=-1000, source_ppm=1000).run()
    assert outcome.holes_in_speech == outcome.voiced_lost == 0
    assert abs(outcome.delay_at(540, 600) - outcome.delay_at(0, 60)) <= 0.020


def test_after_a_150_ms_carrier_stall_the_delay_is_back_by_the_end_of_the_next_talkspurt() -> None:
    # Talkspurts of 3 s with 1 s pauses; the stall hits 0.5 s into the talkspurt at 100 s.
    outcome = Scenario(seconds=120.0, carrier_stalls=((100.5, 0.150),)).run()
    before = outcome.delay_at(90, 100)
    during = outcome.delay_at(100.7, 103)
    after_next = outcome.delay_at(106.5, 107)  # the end of the talkspurt after the next
    assert during - before > 0.120  # the stall really did hold everything back
    assert abs(after_next - before) <= 0.020, (before, during, after_next)
    assert outcome.holes_in_speech == outcome.voiced_lost == 0


def test_without_correction_room_a_continuous_talker_is_never_cut() -> None:
    # No pause in ten minutes: nothing may be dropped or added, whatever the clocks do.
    outcome = Scenario(seconds=120.0, carrier_ppm=-5000, pause_s=0.0).run()
    assert outcome.voiced_lost == 0
    assert outcome.buffer.frames_compacted == outcome.buffer.frames_inserted == 0
