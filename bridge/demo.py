"""`python -m bridge demo`: one translated call end to end, on loopback, in real time.

A German-speaking customer dials the call centre; the bridge answers, opens a Kallglot session
(the simulator) and dials an English-speaking agent (a simulated phone), both on the simulated
carrier `--carrier` names (bridge/sim/accounts.py). Each says one sentence in turn. What each party heard and the transcript are written under `--out`, and a summary says
what a user would ask first: did every frame arrive, and how much delay did the bridge add.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from bridge.audio import codecs
from bridge.audio.formats import AudioFormat, Encoding
from bridge.audio.levels import is_silent
from bridge.audio.mixer import OriginalMixer
from bridge.audio.wav import parse_wav
from bridge.calls.call import Call
from bridge.calls.model import Role
from bridge.demo_console import console_link, photograph_console
from bridge.demo_ducking import MAX_LAG_S, carried, ducked_leg, mixed_levels, render_ducked
from bridge.demo_stack import AGENT, CENTRE, CUSTOMER, SECRET, demo_stack
from bridge.log import configure_logging
from bridge.sim.accounts import ACCOUNTS
from bridge.sim.carrier import SimCall
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.softphone import Phone
from bridge.sim.speech import AGENT_EN, CUSTOMER_DE, speech_wav
from bridge.sim.telnyx import TelnyxSimCall
from bridge.web.keys import REGISTRY

FRAME = 160  # 20 ms of 8 kHz mu-law
MULAW_8K = AudioFormat(Encoding.MULAW, 8000)
SHOWN_METRICS = (
    "bridge_calls_started_total",
    "bridge_calls_ended_total",
    "bridge_frames_total",
    "bridge_added_latency_seconds_count",
    "bridge_playout_underflows_total",
)
ROUTES = f"""
[routes."{CENTRE}"]
agent = "{AGENT}"
customer_language = "de"
agent_language = "en"
greeting = "Willkommen."
say_language = "de-DE"
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="where to write results")
    parser.add_argument(
        "--delay", type=float, default=0.3, help="the Kallglot simulator's translation delay (s)"
    )
    parser.add_argument("--port", type=int, default=0, help="bridge port (default: any free one)")
    parser.add_argument(
        "--carrier",
        choices=tuple(ACCOUNTS),
        default="twilio",
        help="the carrier both parties are on (its simulator)",
    )
    parser.add_argument(
        "--duck",
        type=float,
        metavar="DB",
        help="each party also hears the other's own voice, this many dB (e.g. -18) under the "
        "translation (the route's original_under_translation_db)",
    )
    parser.add_argument(
        "--agent",
        choices=("phone", "browser"),
        default="phone",
        help="the agent on a (simulated) phone, or in the console in headless Chromium "
        "(needs chromium: apt-get install chromium)",
    )


def run(args: argparse.Namespace) -> int:
    configure_logging("warning")
    if args.agent == "browser":
        from bridge.demo_browser import demo_browser, lost_frames, render_browser
        from bridge.sim.chromium import ChromiumMissing

        try:
            result = asyncio.run(demo_browser(args.out, args.delay, args.port, _to_stderr))
        except ChromiumMissing as exc:
            print(f"demo --agent browser: {exc}", file=sys.stderr)
            return 2
        print(render_browser(result))
        (args.out / "summary.json").write_text(json.dumps(result, indent=2))
        return 0 if lost_frames(result) == 0 else 1
    if args.duck is not None and not -60 <= args.duck <= 0:
        print(f"demo: --duck {args.duck}: give a level from -60 to 0 dB, e.g. -18", file=sys.stderr)
        return 2
    summary = asyncio.run(
        demo(args.out, args.delay, args.port, args.carrier, _to_stderr, duck_db=args.duck)
    )
    print(render(summary))
    return 0 if all(leg["lost_frames"] == 0 for leg in summary["legs"].values()) else 1


Party = SimCall | TelnyxSimCall
Progress = Callable[[str], None]


def _to_stderr(line: str) -> None:
    """The call runs in real time for about twenty seconds: say what it is doing meanwhile."""
    print(f"demo: {line}", file=sys.stderr, flush=True)


def quiet(line: str) -> None:
    pass


@dataclass
class Turn:
    speaker: Party
    listener: Party
    said: bytes  # mu-law
    spoke_at: float
    mixed: tuple[int, int] = (0, 0)  # --duck: translation frames in, and accounted for, by its end

    @property
    def voiced(self) -> list[tuple[float, bytes]]:
        """The voiced frames said, each with when it left the phone (20 ms per frame)."""
        frames = [self.said[i : i + FRAME] for i in range(0, len(self.said), FRAME)]
        return voiced_frames((self.spoke_at + n * 0.02, frame) for n, frame in enumerate(frames))


class VoicedReceived:
    """The voiced frames a party has received so far, each with its arrival time.

    Speech counts as arrived whole when its voiced frames arrived in order with nothing voiced
    between them: the playout may add or shed silent frames in the pauses between words to keep
    its delay on target (bridge/audio/cushion.py), and does under load, so a byte-exact match of
    the whole utterance would call a call that lost nothing a loss.
    """

    def __init__(self, party: Party) -> None:
        self._party = party
        self._seen = 0
        self.frames: list[tuple[float, bytes]] = []

    def find(self, said: list[tuple[float, bytes]]) -> int:
        """Index in `frames` where `said` (voiced frames) begins, or -1 if it has not arrived."""
        media = self._party.media_received
        self.frames += voiced_frames(
            (m.at, m.payload[i : i + FRAME])
            for m in media[self._seen :]
            for i in range(0, len(m.payload), FRAME)
        )
        self._seen = len(media)
        needle = b"".join(frame for _, frame in said)
        haystack = b"".join(frame for _, frame in self.frames)
        at = haystack.find(needle)
        while at > 0 and at % FRAME:
            at = haystack.find(needle, at + 1)
        return at // FRAME if at >= 0 else -1


def voiced_frames(frames: Iterable[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    return [(at, frame) for at, frame in frames if not is_silent(frame, MULAW_8K)]


async def demo(
    out: Path,
    delay: float,
    port: int,
    carrier_name: str = "twilio",
    progress: Progress = quiet,
    *,
    duck_db: float | None = None,
) -> dict[str, Any]:
    """Runs the call; `progress` gets one line per phase as it starts. `duck_db`: each party
    hears the other's own voice that far under the translation (bridge/demo_ducking.py)."""
    progress(f"starting the Kallglot and {carrier_name} simulators")
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before any call starts
    kallglot = KallglotSimulator(translation_delay_s=delay)
    account = ACCOUNTS[carrier_name]
    carrier = account.simulator()
    carrier.add_phone(AGENT, Phone(ring_s=1.0))
    routes = ROUTES if duck_db is None else ROUTES + f"original_under_translation_db = {duck_db}\n"
    async with demo_stack(out, routes, kallglot, carrier, port) as stack:
        progress(f"bridge listening on {stack.url}; the customer dials {CENTRE}")
        started = time.perf_counter()
        customer: Party = await account.call_in(carrier, stack.url, CUSTOMER, CENTRE)
        agent: Party = await carrier.next_call(to=AGENT)
        progress(f"the bridge is dialling the agent at {AGENT}")
        call = await stack.app[REGISTRY].wait_for()
        async with asyncio.timeout(60):
            await call.activated.wait()
            progress("agent answered; the customer speaks German")
            roles = {id(customer): Role.CUSTOMER, id(agent): Role.AGENT}
            say = _say if duck_db is None else partial(_say_ducked, call, roles)
            first = await say(customer, agent, speech_pcm(CUSTOMER_DE))
            progress("the agent heard it; the agent answers in English")
            turns = [first, await say(agent, customer, speech_pcm(AGENT_EN))]
            await photograph_console(console_link(stack.url, SECRET.encode(), AGENT), out, progress)
            progress("the customer heard it and hangs up")
            await customer.hang_up()
            await call.ended()
            await agent.ended.wait()
        duration = time.perf_counter() - started
        transcript = await _transcript(
            stack.kallglot_url, kallglot.api_key, call.session.id if call.session else None
        )
        metrics = await _scrape(stack.url + "/metrics")
        progress(f"call ended; writing what each party heard to {out}/")

    (out / "customer-heard.wav").write_bytes(customer.heard_wav())
    (out / "agent-heard.wav").write_bytes(agent.heard_wav())
    (out / "transcript.json").write_text(json.dumps(transcript, indent=2, ensure_ascii=False))
    (out / "metrics.txt").write_text(metrics)
    summary = {
        "call_id": call.id,
        "end_reason": call.end_reason.value if call.end_reason else None,
        "duration_s": round(duration, 2),
        "translation_delay_s": delay,
        "legs": {"customer": _leg(turns[0], turns[1]), "agent": _leg(turns[1], turns[0])},
        "duck_db": duck_db,
        "bridge": {role: leg.to_json() for role, leg in call.summary().legs.items()},
        "metrics": [line for line in metrics.splitlines() if line.startswith(SHOWN_METRICS)],
        "out": str(out),
    }
    if duck_db is not None:
        summary["legs"] = {"customer": _ducked(turns[0]), "agent": _ducked(turns[1])}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


async def _say_ducked(
    call: Call, roles: dict[int, Role], speaker: Party, listener: Party, pcm: bytes
) -> Turn:
    """`_say` for mixed audio: returns once the listener has heard as long as `pcm` lasts and
    the longest lag a translation may have (the simulator translates silence too, so the
    translation never stops: there is no "all of it arrived" to wait for)."""
    turn = Turn(speaker, listener, codecs.encode(Encoding.MULAW, pcm), time.perf_counter())
    mixer = _mixer(call, roles[id(listener)])
    enough = listener.received_bytes + len(pcm) // 2 + int(MAX_LAG_S * 8000)
    speaker.speak(pcm)
    await listener.wait_until(lambda: listener.received_bytes >= enough)
    # Before the next turn: what came in, and what left or still waits its turn to.
    turn.mixed = (mixer.stats.translation_in, carried(mixer) + mixer.pending)
    return turn


def _mixer(call: Call, listener: Role) -> OriginalMixer:
    connection = call.legs[listener].connection
    mixer = connection.buffer.mixer if connection is not None else None
    if mixer is None:
        raise RuntimeError(f"the {listener.value} does not hear the original: no ducking route")
    return mixer


def _ducked(turn: Turn) -> dict[str, Any]:
    """The ducked-mode summary of what `turn.speaker` said, as `turn.listener` heard it."""
    said = np.frombuffer(codecs.decode(Encoding.MULAW, turn.said), np.int16).astype(np.float64)
    heard_mulaw = received_audio(turn.listener)
    start = heard_mulaw.find(turn.said[: 10 * FRAME])
    heard = np.frombuffer(codecs.decode(Encoding.MULAW, heard_mulaw), np.int16)
    levels = mixed_levels(heard.astype(np.float64), said, max(start, 0))
    return ducked_leg(len(turn.said) // FRAME, *turn.mixed, levels)


async def _say(speaker: Party, listener: Party, pcm: bytes) -> Turn:
    """`speaker` says `pcm`; returns once `listener` has received all of it (or it timed out)."""
    turn = Turn(speaker, listener, codecs.encode(Encoding.MULAW, pcm), time.perf_counter())
    said, received = turn.voiced, VoicedReceived(listener)
    speaker.speak(pcm)
    await listener.wait_until(lambda: received.find(said) >= 0)
    return turn


def _leg(own: Turn, other: Turn) -> dict[str, Any]:
    """What one party sent and received, and the delay on what it said reaching the other."""
    said, received = own.voiced, VoicedReceived(own.listener)
    first = received.find(said)
    # What this party received is the other's speech plus the silence the bridge plays around
    # it (before the translation arrives, between turns): counted apart, or "received" dwarfs
    # "sent" and looks like a fault.
    own_received = len(received_audio(other.listener)) // FRAME
    speech = (
        len(other.said) // FRAME if VoicedReceived(other.listener).find(other.voiced) >= 0 else 0
    )
    lost = len(own.said) // FRAME if first < 0 else 0
    delays = []
    if first >= 0:
        arrived = received.frames[first : first + len(said)]
        delays = [
            heard_at - said_at for (said_at, _), (heard_at, _) in zip(said, arrived, strict=True)
        ]
    return {
        "frames_sent": len(own.said) // FRAME,
        "frames_received": own_received,
        "speech_frames_received": speech,
        "silence_frames_received": own_received - speech,
        "lost_frames": lost,
        "delay_ms": percentiles(delays),
    }


def received_audio(party: Party) -> bytes:
    return b"".join(media.payload for media in party.media_received)


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {
        "p50": round(1000 * statistics.median(ordered), 1),
        "p95": round(1000 * p95, 1),
        "max": round(1000 * ordered[-1], 1),
    }


def speech_pcm(name: str) -> bytes:
    return parse_wav(speech_wav(name))[1]


async def _transcript(kallglot_url: str, api_key: str, session_id: str | None) -> Any:
    if session_id is None:
        return None
    headers = {"Authorization": f"Bearer {api_key}"}
    url = f"{kallglot_url}/v1/sessions/{session_id}/transcript"
    async with aiohttp.ClientSession(headers=headers) as http, http.get(url) as response:
        return await response.json()


async def _scrape(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return await response.text()


def render(summary: dict[str, Any]) -> str:
    delay = summary["translation_delay_s"] * 1000
    lines = [
        f"Demo call {summary['call_id']}: {summary['duration_s']} s, ended by {summary['end_reason']}",
        f"(the Kallglot simulator takes {delay:.0f} ms to 'translate'; the bridge adds the rest)",
        "",
    ]
    lines += _table(summary, delay) if summary.get("duck_db") is None else render_ducked(summary)
    lines += ["", "Bridge metrics after the call (all of them in metrics.txt):"]
    lines += [f"  {line}" for line in summary["metrics"]]
    lines += ["", f"What each party heard and the transcript: {summary['out']}/"]
    return "\n".join(lines)


def _table(summary: dict[str, Any], delay: float) -> list[str]:
    lines = [
        f"{'':<10}{'frames':>12}{'frames received':>24}",
        f"{'party':<10}{'sent':>12}{'speech':>10}{'silence':>9}{'lost':>6}"
        "   delay to the other party (ms)",
    ]
    for role, leg in summary["legs"].items():
        d = leg["delay_ms"]
        spread = f"p50 {d.get('p50')}  p95 {d.get('p95')}  max {d.get('max')}" if d else "n/a"
        added = f"   bridge added p50 {d['p50'] - delay:.0f}" if d else ""
        lines.append(
            f"{role:<10}{leg['frames_sent']:>12}{leg['speech_frames_received']:>10}"
            f"{leg['silence_frames_received']:>9}{leg['lost_frames']:>6}   {spread}{added}"
        )
    return lines
