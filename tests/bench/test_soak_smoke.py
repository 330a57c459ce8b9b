"""The playout soak runs end to end at toy length and reports what `make soak` prints.

Its figures are asserted only where a short run already means something: nothing the customer
said was lost, the carrier never ran dry mid-speech, and the stall was recovered from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.long
@pytest.mark.timeout(90)
def test_a_short_soak_reports_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    argv = [sys.executable, "-m", "bench.soak", "--seconds", "14", "--ppm", "1000"]
    argv += ["--stall-at", "5", "--json", str(out)]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=85)
    assert "150 ms stall" in run.stdout, run.stdout + run.stderr

    results = {r["scenario"]: r for r in json.loads(out.read_text())}
    assert set(results) == {"+1000ppm", "stall"}
    for result in results.values():
        assert result["voiced_frames_lost"] == 0
        assert result["run_dry_in_speech"] == 0
    assert results["stall"]["frames_compacted"] >= 5  # the stall's 150 ms, shed in a pause
