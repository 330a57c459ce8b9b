"""The Telnyx calls whose hang-up waits for their speech to end (bridge/carriers/telnyx/hangups.py)."""

from __future__ import annotations

from bridge.carriers.telnyx.hangups import MAX_SPEECH_S, PendingHangUps


def test_a_call_is_pending_from_its_speech_until_it_is_over() -> None:
    table = PendingHangUps()
    table.speaking("v3:a", now=0.0)
    table.speaking("v3:b", now=1.0)
    assert table.pending(now=2.0) == ["v3:a", "v3:b"]
    assert table.done("v3:a")
    assert not table.done("v3:a")  # once
    assert not table.done("v3:unknown")
    assert table.pending(now=2.0) == ["v3:b"]


def test_a_hang_up_another_instance_did_is_forgotten_after_the_longest_speech() -> None:
    table = PendingHangUps()
    table.speaking("v3:elsewhere", now=0.0)
    assert table.pending(now=MAX_SPEECH_S) == ["v3:elsewhere"]
    table.speaking("v3:new", now=MAX_SPEECH_S + 1)
    assert table.pending(now=MAX_SPEECH_S + 1) == ["v3:new"]
    assert len(table) == 1
