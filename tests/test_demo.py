"""`make demo` is what a new user runs first: it must work and lose nothing."""

from __future__ import annotations

from pathlib import Path

from bridge.audio.wav import parse_wav
from bridge.demo import demo, render


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
        ["the", "customer"],
        ["call", "ended;"],
    ]
