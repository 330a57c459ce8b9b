"""`python -m bridge demo --agent browser`: the whole call with the agent in headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.demo_browser import demo_browser, lost_frames, render_browser
from tests.browser.conftest import require_chromium

pytestmark = pytest.mark.long  # Chromium: CI's profile (tests/profile.py)


async def test_the_browser_demo_loses_no_frame_and_adds_little_delay(tmp_path: Path) -> None:
    require_chromium()
    summary = await demo_browser(tmp_path, delay=0.3, port=0)

    assert summary["end_reason"] == "agent_hangup"  # hung up in the page
    assert lost_frames(summary) == 0, summary["lost"]
    assert summary["page"]["framesSent"] > 300  # the call lasts over six seconds
    delay = summary["added_delay_ms"]
    assert delay["to_kallglot"]["p50"] <= 40
    assert delay["to_page"]["p50"] <= 40
    # What the agent said reached the customer (resampled, so counted in voiced frames).
    assert summary["customer_heard_voiced_frames"] >= 0.9 * summary["agent_said_voiced_frames"]
    assert (tmp_path / "console-browser.png").stat().st_size > 10_000
    table = render_browser(summary)
    assert "page -> bridge 0, bridge -> page 0, dropped in the bridge 0" in table
