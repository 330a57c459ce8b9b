"""The softphone's loudspeaker accounting without sockets: `Playout` ticks fed into `Holes` and
a `Recording`, exactly as the stream session's line feeds them."""

from __future__ import annotations

from bridge.sim.softphone import FRAME_BYTES, SILENCE, Holes, Playout
from bridge.sim.softphone_record import Recording

TONE = b"\x10"  # a mu-law byte that is not silence


def run(playout: Playout, record: Recording, holes: Holes, ticks: int) -> list[str]:
    """`ticks` ticks of the loudspeaker, 20 ms apart from t = 0; returns the marks echoed."""
    echoed: list[str] = []
    for _ in range(ticks):
        frame, played, due = playout.tick()
        index = record.play_tick(frame, played, len(record.tick_at) * 0.02, playout.queued_bytes)
        hole = holes.tick(index, played)
        if hole is not None:
            record.holes.append(hole)
        echoed += due
    return echoed


def test_holes_are_where_the_audio_ran_dry_after_a_full_frame() -> None:
    holes = Holes()
    played = [0, 0, 160, 160, 100, 0, 0, 40, 160, 0, 160, 160, 0, 0]
    #          not a hole: ^ nothing played yet      ^ 3 ticks   ^ 1 tick    ^ open at the end
    closed = [hole for i, n in enumerate(played) if (hole := holes.tick(i, n)) is not None]

    assert closed == [(4, 3), (9, 1)]
    assert holes.open_at == 12


def test_a_partial_frame_after_a_hole_does_not_start_another() -> None:
    holes = Holes()
    closed = [holes.tick(i, n) for i, n in enumerate([160, 0, 80, 80, 0, 160, 0, 160])]

    # A hole needs a full frame before it: 80 after the hole is the way back, not a new hole.
    assert [hole for hole in closed if hole] == [(1, 1), (6, 1)]


def test_tick_indices_may_skip_a_stall() -> None:
    holes = Holes()
    assert holes.tick(0, 160) is None
    assert holes.tick(1, 0) is None
    # Ticks 2..8 were a stall (not fed); the hole spans them.
    assert holes.tick(9, 160) == (1, 8)


def test_recording_keeps_time_and_queue_per_heard_frame() -> None:
    playout, record, holes = Playout(), Recording(), Holes()
    playout.push_audio(TONE * 400)  # 2.5 frames
    playout.push_mark("end")

    echoed = run(playout, record, holes, 5)

    assert len(record.heard) == 5 * FRAME_BYTES
    assert list(record.tick_at) == [0.0, 0.02, 0.04, 0.06, 0.08]
    assert list(record.queued_after_tick) == [240, 80, 0, 0, 0]
    assert record.heard_media_bytes == 400
    assert bytes(record.heard[2 * FRAME_BYTES :]) == TONE * 80 + SILENCE[80:] + SILENCE * 2
    assert echoed == ["end"]  # after the tick that finished the audio
    assert record.holes == []  # the hole opened at tick 2 is still open
    assert holes.open_at == 2

    playout.push_audio(TONE * 320)
    run(playout, record, holes, 3)

    assert record.holes == [(2, 3)]  # ticks 2, 3, 4 ran dry; tick 5 plays again
    assert list(record.queued_after_tick[5:]) == [160, 0, 0]
    assert holes.open_at == 7


def test_a_clear_mid_flow_is_a_hole_too() -> None:
    playout, record, holes = Playout(), Recording(), Holes()
    playout.push_audio(TONE * 800)
    run(playout, record, holes, 2)
    playout.clear()
    run(playout, record, holes, 2)
    playout.push_audio(TONE * 160)
    run(playout, record, holes, 1)

    assert record.holes == [(2, 2)]
    assert record.heard_media_bytes == 480
