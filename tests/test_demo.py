"""`make demo` is what a new user runs first: it must work and lose nothing."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.audio.levels import is_silent
from bridge.audio.wav import parse_wav
from bridge.demo import FRAME, MULAW_8K, Turn, VoicedReceived, demo, render, speech_pcm
from bridge.sim.chromium import missing
from bridge.sim.speech import CUSTOMER_DE


@pytest.mark.long
async def test_the_demo_call_loses_no_frame_and_writes_its_results(tmp_path: Path) -> None:
    progress: list[str] = []
    summary = await demo(tmp_path, delay=0.3, port=0, progress=progress.append)

    assert summary["end_reason"] == "customer_hangup"
    for role in ("customer", "agent"):
        leg = summary["legs"][role]
        assert leg["lost_frames"] == 0
        assert leg["frames_sent"] > 200  # each sentence is over four seconds
        assert 300 <= leg["delay_ms"]["p50"] < 800  # the simulator's 300 ms plus the bridge's share
        fmt, pcm = parse_wav((tmp_path / f"{role}-heard.wav").read_bytes())
        assert fmt.sample_rate == 8000
        assert len(pcm) > 2 * 8000 * 4
    assert (tmp_path / "transcript.json").read_text().count('"speaker"') >= 2
    if missing() is None:  # Chromium is here (always under CI): the agent's console, mid-call
        assert (tmp_path / "console.png").stat().st_size > 10_000
    for role, leg in summary["legs"].items():
        # What a party receives is the other's speech, whole, plus silence around it.
        other = summary["legs"]["agent" if role == "customer" else "customer"]
        assert leg["speech_frames_received"] == other["frames_sent"]
        assert leg["silence_frames_received"] == leg["frames_received"] - other["frames_sent"]
        assert leg["silence_frames_received"] > 0
    table = render(summary)
    assert "speech" in table
    assert "silence" in table
    assert "lost" in table
    customer = summary["legs"]["customer"]
    row = f"{customer['speech_frames_received']:>10}{customer['silence_frames_received']:>9}"
    assert row in table

    # One line per phase, in order, while it runs (the call takes about ten seconds).
    assert [line.split()[0:2] for line in progress] == [
        ["starting", "the"],
        ["bridge", "listening"],
        ["the", "bridge"],
        ["agent", "answered;"],
        ["the", "agent"],
        ["the", "agent's"] if missing() is None else ["no", "console"],  # the screenshot
        ["the", "customer"],
        ["call", "ended;"],
    ]


@pytest.mark.long
async def test_the_ducked_demo_mixes_every_translated_frame_at_the_level_asked(
    tmp_path: Path,
) -> None:
    """`demo --duck -18`: each party hears the other's own voice 18 dB under the translation."""
    summary = await demo(tmp_path, delay=0.3, port=0, duck_db=-18.0)

    assert summary["end_reason"] == "customer_hangup"
    for role in ("customer", "agent"):
        leg = summary["legs"][role]
        assert leg["lost_frames"] == 0
        assert leg["translation_frames_mixed"] > 200
        assert abs(leg["original_db"] + 18) <= 1.0, leg
        assert abs(leg["translation_db"]) <= 1.0, leg
        assert 300 <= leg["translation_lag_ms"] < 800  # the simulator's 300 ms and batching
        assert (tmp_path / f"{role}-heard.wav").stat().st_size > 2 * 8000 * 4
    assert "-18.0 dB under the translation" in render(summary)


def test_speech_counts_as_arrived_whole_despite_silent_frames_shed_in_its_pauses() -> None:
    """Under load the playout sheds silent frames in pauses between words to keep its delay on
    target; the demo must not call that a loss, but must still see a voiced frame missing."""
    said = codecs.encode(Encoding.MULAW, speech_pcm(CUSTOMER_DE))
    turn = Turn(speaker=None, listener=None, said=said, spoke_at=0.0)  # type: ignore[arg-type]
    frames = [said[i : i + FRAME] for i in range(0, len(said), FRAME)]
    voiced = [not is_silent(frame, MULAW_8K) for frame in frames]
    pause = next(i for i in range(1, len(frames)) if voiced[i - 1] and not voiced[i])
    shed = frames[:pause] + frames[pause + 1 :]
    lost_word = frames[: pause - 1] + frames[pause:]

    def arrived(frames: list[bytes]) -> VoicedReceived:
        party = SimpleNamespace(media_received=[SimpleNamespace(at=1.0, payload=b"".join(frames))])
        return VoicedReceived(party)  # type: ignore[arg-type]

    assert arrived(shed).find(turn.voiced) == 0
    assert arrived(lost_word).find(turn.voiced) == -1
