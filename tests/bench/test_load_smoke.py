"""The load benchmark runs end to end at toy size and writes the results it promises.

No figure is asserted (they depend on the machine and on whatever else it is running); only
that every step has the measurements the table and results.json are made of, and that no frame
went missing at a load any machine carries.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.long
@pytest.mark.timeout(60)
def test_two_calls_for_two_seconds_produce_a_complete_result(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    argv = [sys.executable, "-m", "bench.load", "--calls", "2", "--seconds", "2"]
    argv += ["--warmup", "0.3", "--out", str(out)]
    run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=55)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Legs per core at 100 % CPU" in run.stdout

    results = json.loads(out.read_text())
    assert set(results) >= {"machine", "options", "steps", "summary"}
    assert set(results["summary"]) >= {
        "legs_per_core",
        "cpu_ratio_to_floor",
        "largest_calls_p99_under_5ms",
    }
    (step,) = results["steps"]
    assert (step["calls"], step["legs"]) == (2, 4)
    bridge, floor, before = step["bridge"], step["floor"], step["floor_before"]
    for key in ("cpu_ms_per_leg_s", "cpu_percent", "legs_per_core", "rss_kb_per_leg"):
        assert bridge[key] >= 0, key
    assert floor["cpu_ms_per_leg_s"] > 0
    assert before["cpu_ms_per_leg_s"] > 0
    mean = (floor["cpu_ms_per_leg_s"] + before["cpu_ms_per_leg_s"]) / 2
    assert step["floor_ms_per_leg_s"] == pytest.approx(mean, abs=1e-4)
    assert step["ratio"] == pytest.approx(bridge["cpu_ms_per_leg_s"] / mean, abs=0.01)
    spread = abs(floor["cpu_ms_per_leg_s"] - before["cpu_ms_per_leg_s"]) / 2 / mean
    assert step["floor_spread_percent"] == pytest.approx(100 * spread, abs=0.1)
    for direction in ("inbound", "outbound"):
        latency = bridge["latency_ms"][direction]
        assert set(latency) == {"p50", "p99", "max", "samples"}
        assert latency["samples"] > 0, direction
    assert floor["latency_ms"]["relay"]["samples"] > 0
    assert before["latency_ms"]["relay"]["samples"] > 0
    assert bridge["frames"]["sent"] > 0
    assert bridge["frames"]["lost"] == 0
    assert bridge["frames"]["unmatched"] == 0
    assert bridge["silent_legs"] == 0
    assert "underflows" in bridge
    assert bridge["active_calls"] == 2  # the bridge's own counters were read
    assert bridge["call_summaries"]["calls"] >= 2  # the bridge logged every call it ended
