"""`make demo` is what a new user runs first: it must work and lose nothing."""

from __future__ import annotations

from pathlib import Path

from bridge.audio.wav import parse_wav
from bridge.demo import demo, render


async def test_the_demo_call_loses_no_frame_and_writes_its_results(tmp_path: Path) -> None:
    summary = await demo(tmp_path, delay=0.3, port=0)

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
    assert "lost" in render(summary)
