"""`make soak`: long calls through the running bridge with the carrier's clock skewed, in real time.

Each scenario is a whole stack on loopback (the Kallglot simulator, the Twilio simulator with
`clock_ppm` set, and the bridge) carrying one call for `--seconds` (default ten minutes). The
customer speaks real speech with pauses for the whole call, every voiced 20 ms frame marked
with its index in its first two bytes (mu-law passes through the bridge and the simulator
untouched), and the agent's simulated loudspeaker records when it played each frame. So for
every frame we know when it was spoken (its index on the carrier's tick clock) and when the
listener heard it, and for every tick what the carrier still held. Scenarios run side by side.

Printed per scenario: the carrier's buffer while speech played (min / p50 / max, ms), the
median delay in the first and the last minute and their difference, run-dry events during
speech, voiced frames lost, the frames playout added or dropped in pauses, and the clock rate
the bridge estimated. With `--stall-at S`, the agent's carrier freezes for 150 ms at S seconds
and the delay of the talkspurts around it is printed too. Exit status 1 if a scenario missed
the issue's bar (buffer within 60-200 ms, drift <= 20 ms, no run-dry in speech, nothing lost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.audio.wav import parse_wav
from bridge.demo_stack import AGENT, CENTRE, CUSTOMER, demo_stack
from bridge.log import configure_logging
from bridge.sim.carrier import CarrierSimulator, SimCall
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.softphone import FRAME_BYTES, Phone
from bridge.web.keys import REGISTRY

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
MARKER_BYTES = 3  # base-126 digits: byte 0x7F (mu-law's "negative zero") reads back as 0xFF
FRAME_S = 0.02
PAUSE_S = 1.0  # between repetitions of the speech: a talkspurt boundary
BAND_MS = (60, 200)
MAX_DRIFT_MS = 20.0
STALL_S = 0.150
ROUTES = f"""
[routes."{CENTRE}"]
agent = "{AGENT}"
customer_language = "de"
agent_language = "en"
"""


def mark(index: int) -> bytes:
    return bytes((index // 126**2, index // 126 % 126, index % 126))


def marked(frame: bytes) -> int:
    return frame[0] * 126**2 + frame[1] * 126 + frame[2]


@dataclass(frozen=True)
class Script:
    """What the customer says: marked mu-law frames, and which of them are speech."""

    frames: list[bytes]
    voiced: list[bool]

    @classmethod
    def build(cls, seconds: float) -> Script:
        _, pcm = parse_wav((DATA / "customer_de.wav").read_bytes())
        speech = codecs.encode(Encoding.MULAW, pcm)
        once = [speech[i : i + FRAME_BYTES] for i in range(0, len(speech) - FRAME_BYTES + 1, 160)]
        once += [b"\xff" * FRAME_BYTES] * round(PAUSE_S / FRAME_S)
        frames: list[bytes] = []
        voiced: list[bool] = []
        while len(frames) * FRAME_S < seconds:
            for frame in once:
                pcm16 = codecs.decode(Encoding.MULAW, frame)
                loud = max(abs(v) for v in np.frombuffer(pcm16, np.int16)) > 300
                index = len(frames)
                frames.append(mark(index) + frame[MARKER_BYTES:] if loud else frame)
                voiced.append(loud)
        return cls(frames, voiced)

    def pcm(self) -> bytes:
        return codecs.decode(Encoding.MULAW, b"".join(self.frames))


@dataclass
class Scenario:
    name: str
    ppm: float
    stall_at: float | None = None


async def run_scenario(scenario: Scenario, seconds: float, script: Script) -> dict[str, Any]:
    kallglot = KallglotSimulator(translation_delay_s=0.1, keep_audio=False)
    carrier = CarrierSimulator(default_phone=None)
    carrier.clock_ppm = scenario.ppm
    carrier.add_phone(AGENT, Phone(ring_s=0.2))
    workdir = Path(tempfile.mkdtemp(prefix=f"kallglot-soak-{scenario.name}-"))
    async with demo_stack(workdir, ROUTES, kallglot, carrier) as stack:
        app, bridge_url = stack.app, stack.url
        customer = await carrier.place_call(CUSTOMER, CENTRE, bridge_url + "/twilio/voice")
        agent = await carrier.next_call(to=AGENT)
        call = await app[REGISTRY].wait_for()
        async with asyncio.timeout(60):
            await call.activated.wait()
        spoken_from = len(customer.tick_at)
        customer.speak(script.pcm())
        if scenario.stall_at is not None:
            await asyncio.sleep(scenario.stall_at)  # a real-time soak: time is what it measures
            carrier.stall(agent.sid, STALL_S)
            await asyncio.sleep(seconds - scenario.stall_at)
        else:
            await asyncio.sleep(seconds)
        buffer = call.legs[next(r for r in call.legs if r.value == "agent")].connection
        estimate = buffer.buffer.clock_rate.ppm if buffer is not None else float("nan")
        await customer.hang_up()
        async with asyncio.timeout(30):
            await call.ended()
        summary = call.summary().legs["agent"]
        spoke_at = customer.tick_at[spoken_from] if len(customer.tick_at) > spoken_from else 0.0
        return measure(scenario, script, agent, spoke_at, summary.to_json(), estimate)


def measure(
    scenario: Scenario,
    script: Script,
    agent: SimCall,
    spoke_at: float,
    leg: dict[str, Any],
    estimate_ppm: float,
) -> dict[str, Any]:
    tick_s = FRAME_S / (1 + scenario.ppm * 1e-6)
    heard = bytes(agent.heard)
    ticks = len(agent.tick_at)
    delays: list[tuple[float, float]] = []  # (seconds into the speech, delay s)
    held: list[float] = []
    expected, lost = 0, 0
    voiced_ticks = np.zeros(ticks, bool)
    for k in range(ticks):
        frame = heard[k * FRAME_BYTES : (k + 1) * FRAME_BYTES]
        if frame == b"\xff" * FRAME_BYTES or len(frame) < FRAME_BYTES:
            continue
        index = marked(frame)
        if not (expected <= index < len(script.frames)) or script.frames[index] != frame:
            continue
        voiced_ticks[k] = True
        lost += sum(script.voiced[expected:index])
        expected = index + 1
        spoken = spoke_at + index * tick_s
        delays.append((index * tick_s, agent.tick_at[k] - spoken))
        held.append((agent.queued_after_tick[k] + FRAME_BYTES) / 8)
    dry_in_speech = sum(
        1 for start, _ in agent.holes if start > 0 and voiced_ticks[start - 1]
    )  # a hole right after a voiced frame: the carrier ran dry mid-speech
    d = np.array([x for _, x in delays]) * 1000
    t = np.array([x for x, _ in delays])
    first = float(np.median(d[t < 60])) if (t < 60).any() else float("nan")
    last_from = t.max() - 60 if len(t) else 0
    last = float(np.median(d[t >= last_from])) if len(t) else float("nan")
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "clock_ppm": scenario.ppm,
        "estimated_ppm": round(estimate_ppm, 1),
        "seconds": round(float(t.max()) if len(t) else 0.0, 1),
        "buffer_ms": _spread(held),
        "delay_first_minute_ms": round(first, 1),
        "delay_last_minute_ms": round(last, 1),
        "drift_ms": round(last - first, 1),
        "run_dry_in_speech": dry_in_speech,
        "voiced_frames_lost": lost,
        "frames_inserted": leg["frames_inserted"],
        "frames_compacted": leg["frames_compacted"],
        "underflows_counted": leg["underflows"],
    }
    if scenario.stall_at is not None:
        result["stall"] = stall_recovery(t, d, scenario.stall_at)
    band_ok = BAND_MS[0] <= result["buffer_ms"]["min"] and result["buffer_ms"]["max"] <= BAND_MS[1]
    result["ok"] = bool(
        (band_ok or scenario.stall_at is not None)
        and abs(result["drift_ms"]) <= MAX_DRIFT_MS
        and dry_in_speech == 0
        and lost == 0
        and ("stall" not in result or result["stall"]["ok"])
    )
    return result


def stall_recovery(t: np.ndarray, d: np.ndarray, at: float) -> dict[str, Any]:
    """Delay before the stall, and in the talkspurts after it: back within 20 ms by the end of
    the next talkspurt (speech resumes after each PAUSE_S pause)."""
    before = float(np.median(d[(t > at - 20) & (t < at)]))
    after = t > at
    gaps = np.flatnonzero(np.diff(t[after]) > PAUSE_S * 0.8)  # where the pauses are
    spurt_ends = t[after][gaps] if len(gaps) else t[after][-1:]
    next_end = float(spurt_ends[1] if len(spurt_ends) > 1 else spurt_ends[0])
    end_delay = float(np.median(d[(t > next_end - 0.5) & (t <= next_end)]))
    peak = float(d[after][:50].max())
    return {
        "before_ms": round(before, 1),
        "peak_ms": round(peak, 1),
        "end_of_next_talkspurt_ms": round(end_delay, 1),
        "ok": abs(end_delay - before) <= MAX_DRIFT_MS,
    }


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"min": float("nan"), "p50": float("nan"), "max": float("nan")}
    a = np.array(values)
    return {"min": float(a.min()), "p50": float(np.median(a)), "max": float(a.max())}


def report(results: list[dict[str, Any]]) -> str:
    lines = [
        f"{'scenario':<14}{'buffer ms min/p50/max':>24}{'delay 1st/last min':>20}{'drift':>8}"
        f"{'dry':>5}{'lost':>6}{'added':>7}{'shed':>6}{'est ppm':>9}  ok"
    ]
    for r in results:
        b = r["buffer_ms"]
        lines.append(
            f"{r['scenario']:<14}{b['min']:>10.0f}/{b['p50']:>5.0f}/{b['max']:>5.0f} ms"
            f"{r['delay_first_minute_ms']:>10.1f}/{r['delay_last_minute_ms']:<7.1f}ms"
            f"{r['drift_ms']:>+7.1f}{r['run_dry_in_speech']:>5}{r['voiced_frames_lost']:>6}"
            f"{r['frames_inserted']:>7}{r['frames_compacted']:>6}{r['estimated_ppm']:>9.0f}"
            f"  {'yes' if r['ok'] else 'NO'}"
        )
        if "stall" in r:
            s = r["stall"]
            lines.append(
                f"{'':<14}150 ms stall: delay {s['before_ms']:.1f} ms before, peak "
                f"{s['peak_ms']:.1f}, {s['end_of_next_talkspurt_ms']:.1f} at the end of the "
                "next talkspurt"
            )
    return "\n".join(lines)


async def main_async(seconds: float, ppms: list[float], stall_at: float | None) -> list[Any]:
    script = Script.build(seconds + 30)
    scenarios = [Scenario(f"{ppm:+.0f}ppm", ppm) for ppm in ppms]
    if stall_at is not None:
        scenarios.append(Scenario("stall", 0.0, stall_at))
    return list(await asyncio.gather(*(run_scenario(s, seconds, script) for s in scenarios)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="call length (default 600)")
    parser.add_argument(
        "--ppm", type=float, action="append", help="carrier clock skew (repeatable; +-1000)"
    )
    parser.add_argument("--stall-at", type=float, help="also: a 150 ms stall this far in")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    configure_logging(level="warning")
    results = asyncio.run(main_async(args.seconds, args.ppm or [1000, -1000], args.stall_at))
    print(report(results), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=lambda v: v.item()) + "\n")
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
