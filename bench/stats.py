"""Numbers for the load benchmark: latency percentiles, per-leg loss bookkeeping, the tables.

Kept apart from the sockets so the arithmetic is easy to check by eye: every figure in the table
is one of the few functions here applied to raw nanosecond samples or counters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

LATENCY_TARGET_MS = 5.0
SATURATED_PERCENT = 95.0  # the measured core was this busy: figures are capacity-bound
FOREIGN_PERCENT = 10.0  # this much of the measured core went to other processes
GENERATOR_LAG_MS = 5.0  # pacer p99 lateness beyond which our own lag pollutes the latency


def flags(result: dict[str, Any]) -> str:
    """S: core saturated, F: other processes took the core, G: the generator lagged."""
    out = ""
    busy = result.get("core_busy_percent") or []
    if result["cpu_percent"] >= SATURATED_PERCENT or (
        busy and max(busy) >= SATURATED_PERCENT and result["cpu_percent"] >= 50
    ):
        out += "S"
    if result.get("foreign_percent", 0) >= FOREIGN_PERCENT:
        out += "F"
    if result["latency_ms"]["generator_lag"]["p99"] > GENERATOR_LAG_MS:
        out += "G"
    return out


def percentile(sorted_values: Sequence[int], q: float) -> int:
    """Nearest-rank percentile (q in 0..100) of values already sorted; 0 for no values."""
    if not sorted_values:
        return 0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_summary(samples_ns: list[int]) -> dict[str, float | int]:
    """p50/p99/max in milliseconds (3 decimals) and the number of samples behind them."""
    values = sorted(samples_ns)
    return {
        "p50": round(percentile(values, 50) / 1e6, 3),
        "p99": round(percentile(values, 99) / 1e6, 3),
        "max": round((values[-1] if values else 0) / 1e6, 3),
        "samples": len(values),
    }


def drift(samples_ns: list[int], at_ns: list[int]) -> dict[str, float]:
    """Median latency over the first and the last tenth of the window (ms).

    A steady system shows the same figure at both ends; one that cannot keep up, or whose
    queues only ever grow, shows the last tenth higher: its latency is a slope, not a level.
    """
    if len(samples_ns) < 20:
        return {"first_p50": 0.0, "last_p50": 0.0}
    start, end = at_ns[0], at_ns[-1]
    tenth = (end - start) // 10
    first = sorted(s for s, t in zip(samples_ns, at_ns, strict=True) if t <= start + tenth)
    last = sorted(s for s, t in zip(samples_ns, at_ns, strict=True) if t >= end - tenth)
    return {
        "first_p50": round(percentile(first, 50) / 1e6, 3),
        "last_p50": round(percentile(last, 50) / 1e6, 3),
    }


def gap(expected: int, got: int, loop: int) -> int:
    """Frames skipped between the index we expected next and the one that arrived.

    Indices wrap every `loop` frames (the speech loops), so the gap is taken modulo the loop;
    a gap of more than half a loop is a duplicate or a reordering, not a loss, and counts as 0
    here (the caller counts it separately).
    """
    skipped = (got - expected) % loop
    return skipped if skipped < loop // 2 else 0


def fmt_ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def step_result(
    calls: int, bridge: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
) -> dict[str, Any]:
    """One N's figures: the bridge, the two floor runs around it, and the ratio to their mean."""
    first, second = before["cpu_ms_per_leg_s"], after["cpu_ms_per_leg_s"]
    floor = (first + second) / 2
    return {
        "calls": calls,
        "legs": 2 * calls,
        "bridge": bridge,
        "floor": after,
        "floor_before": before,
        "floor_ms_per_leg_s": round(floor, 4),
        "floor_spread_percent": round(100 * abs(first - second) / (2 * floor), 1) if floor else 0.0,
        "ratio": round(bridge["cpu_ms_per_leg_s"] / floor, 2) if floor else 0.0,
        "generator_cpu_percent": bridge["generator_cpu_percent"],
    }


def floor_flags(step: dict[str, Any]) -> str:
    return "".join(sorted(set(flags(step["floor_before"]) + flags(step["floor"]))))


def bridge_table(steps: list[dict[str, Any]]) -> str:
    header = (
        f"{'calls':>5} {'legs':>5} {'cpu%':>5} {'ms/leg-s':>8} {'floor':>6} {'fl+-%':>5} "
        f"{'ratio':>5} "
        f"{'legs/core':>9} {'RSS kB/leg':>10} "
        f"{'in p50':>7} {'p99':>6} {'max':>6} {'out p50':>7} {'p99':>6} {'max':>6} "
        f"{'lost':>5} {'underfl':>7} {'gen%':>5} flags"
    )
    lines = [header, "-" * len(header)]
    for step in steps:
        b, floor = step["bridge"], floor_flags(step)
        lat_in, lat_out = b["latency_ms"]["inbound"], b["latency_ms"]["outbound"]
        lines.append(
            f"{step['calls']:>5} {step['legs']:>5} {b['cpu_percent']:>5.0f}"
            f"{b['cpu_ms_per_leg_s']:>9.3f} {step['floor_ms_per_leg_s']:>6.3f} "
            f"{step['floor_spread_percent']:>5.1f} {step['ratio']:>5.2f} "
            f"{b['legs_per_core']:>9.0f} {b['rss_kb_per_leg']:>10.1f} "
            f"{fmt_ms(lat_in['p50']):>7} {fmt_ms(lat_in['p99']):>6} {fmt_ms(lat_in['max']):>6} "
            f"{fmt_ms(lat_out['p50']):>7} {fmt_ms(lat_out['p99']):>6} {fmt_ms(lat_out['max']):>6} "
            f"{b['frames']['lost']:>5} {b['underflows']:>7} {step['generator_cpu_percent']:>5.0f} "
            f"{flags(b) or '-'}{'/' + floor if floor else ''}"
        )
    return "\n".join(lines)


def floor_table(steps: list[dict[str, Any]]) -> str:
    header = (
        f"{'calls':>5} {'legs':>5} {'run':>6} {'cpu%':>5} {'ms/leg-s':>8} "
        f"{'relay p50':>9} {'p99':>6} {'max':>6} {'lost':>5} {'gen%':>5} flags"
    )
    lines = [header, "-" * len(header)]
    for step in steps:
        for run, f in (("before", step["floor_before"]), ("after", step["floor"])):
            relay = f["latency_ms"]["relay"]
            lines.append(
                f"{step['calls']:>5} {step['legs']:>5} {run:>6} {f['cpu_percent']:>5.0f} "
                f"{f['cpu_ms_per_leg_s']:>8.3f} {fmt_ms(relay['p50']):>9} "
                f"{fmt_ms(relay['p99']):>6} {fmt_ms(relay['max']):>6} {f['frames']['lost']:>5} "
                f"{f['generator_cpu_percent']:>5.0f} {flags(f) or '-'}"
            )
    return "\n".join(lines)


def summarize(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Headline figures: legs per core, from the largest step whose core was not saturated (a
    saturated bridge batches more per wake-up and so looks cheaper than it is; F and G flags
    are reported with it), and the largest N whose p99 added latency stayed under the target
    in both directions."""
    unsaturated = [s for s in steps if "S" not in flags(s["bridge"])]
    candidates = unsaturated or steps[:1]
    basis = max(candidates, key=lambda s: s["calls"]) if candidates else None
    under = [
        s["calls"]
        for s in steps
        if max(
            s["bridge"]["latency_ms"]["inbound"]["p99"],
            s["bridge"]["latency_ms"]["outbound"]["p99"],
        )
        < LATENCY_TARGET_MS
        and s["bridge"]["latency_ms"]["inbound"]["samples"]
        and s["bridge"]["latency_ms"]["outbound"]["samples"]
    ]
    return {
        "legs_per_core": basis["bridge"]["legs_per_core"] if basis else None,
        "legs_per_core_from_calls": basis["calls"] if basis else None,
        "cpu_ratio_to_floor": basis["ratio"] if basis else None,
        "largest_calls_p99_under_5ms": max(under) if under else None,
        "latency_target_ms": LATENCY_TARGET_MS,
        "flags": {str(s["calls"]): flags(s["bridge"]) + "/" + floor_flags(s) for s in steps},
    }
