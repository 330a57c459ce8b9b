"""`python -m bridge call`: place one simulated inbound call against a running bridge.

The caller dials `--to`; the carrier simulator POSTs the bridge's voice webhook (signed with
TWILIO_AUTH_TOKEN, so the bridge must share it), runs the TwiML, speaks `--audio` into the media
stream and hangs up after `--hangup-after` seconds.

Which simulator: with `--sim URL` (what `make run` prints) the call is placed in the simulator
`serve` started beside the bridge (bridge/sim/dev_calls.py), the one the bridge also dials the
agent into, so both legs live in one carrier and the bridge's updates to the caller's leg (the
apology) reach it. Without `--sim` the tool runs a simulator of its own, serving its REST API at
TWILIO_API_URL (when that is a loopback address) for a bridge configured with it.

What each party heard goes to `--out` as WAV, plus `summary.json`; when the call failed, the
carrier's reason (its warning codes, such as 11200 for a webhook answering 403) is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bridge.sim.carrier import CarrierSimulator, SimCall
from bridge.sim.carrier_report import call_summary, load_speech
from bridge.sim.dev_calls import DIALLED_DRAIN_S, GRACE_S, PATH, wait_ended
from bridge.sim.softphone import ANSWER_MODES, Phone

LOOPBACK = ("127.0.0.1", "localhost", "::1")
Party = tuple[str, dict[str, Any], bytes]  # label, call_summary(), what it heard as WAV


def default_out(root: Path = Path("call-out")) -> Path:
    """A fresh folder per call, so a test call never overwrites another's (or `demo-out/`)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out, n = root / stamp, 1
    while out.exists():
        n += 1
        out = root / f"{stamp}-{n}"
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument("--bridge", required=True, help="the bridge's base URL")
    parser.add_argument("--to", required=True, help="the number dialled (one of the bridge's)")
    parser.add_argument("--from", dest="from_", default="+15550100001", metavar="NUMBER")
    parser.add_argument("--audio", type=Path, help="WAV the caller speaks (default: silence)")
    parser.add_argument("--hangup-after", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--digits", default="", help="keys pressed at menus, e.g. 1")
    parser.add_argument(
        "--out", type=Path, help="folder for the recordings (default call-out/<UTC time>)"
    )
    parser.add_argument("--voice-path", default="/twilio/voice")
    parser.add_argument(
        "--sim",
        metavar="URL",
        help="place the call in this running carrier simulator (the one `serve` printed)",
    )
    parser.add_argument("--agent-audio", type=Path, help="WAV dialled phones speak (own sim)")
    parser.add_argument("--agent-hangup-after", type=float, help="dialled phones hang up after N s")
    parser.add_argument(
        "--agent-answer",
        choices=ANSWER_MODES,
        help="how dialled phones answer (default answer)",
    )
    parser.add_argument("--account-sid", default=env.get("TWILIO_ACCOUNT_SID"))
    parser.add_argument("--auth-token", default=env.get("TWILIO_AUTH_TOKEN"))
    parser.add_argument(
        "--api-url",
        default=env.get("TWILIO_API_URL"),
        help="serve the simulator's REST API here (loopback http only; default TWILIO_API_URL)",
    )


def rest_address(api_url: str | None) -> tuple[str, int] | None:
    """Where to serve the REST API: a loopback http TWILIO_API_URL, else nowhere."""
    if not api_url:
        return None
    parts = urlsplit(api_url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK or parts.port is None:
        return None
    return parts.hostname, parts.port


def failure_reason(summary: dict[str, Any]) -> str | None:
    """Why a party's call went wrong, as the carrier recorded it; None if it went right."""
    warnings = [f"carrier warning {w['code']}: {w['message']}" for w in summary["warnings"]]
    if warnings:
        return "; ".join(warnings)
    statuses = summary["statuses"]
    final = statuses[-1] if statuses else "never started"
    if final != "completed":
        return f"the call ended {final}"
    if summary["direction"] == "inbound" and not summary["stream_sids"]:
        said = " ".join(repr(s["text"]) for s in summary["said"])
        told = f" and only said {said}" if said else ""
        return f"the bridge never started a media stream{told} (its log says why)"
    return None


def write_outcome(parties: list[Party], out: Path) -> Path:
    """`<label>-heard.wav` per party and one `summary.json`; returns the summary's path."""
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}
    for label, party, wav in parties:
        (out / f"{label}-heard.wav").write_bytes(wav)
        summary[label] = party | {"heard_wav": f"{label}-heard.wav"}
    path = out / "summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


async def place_in_sim(args: argparse.Namespace, voice_url: str) -> tuple[bool, list[Party]]:
    """Asks the running dev simulator at `--sim` to place the call (bridge/sim/dev_calls.py)."""
    agent: dict[str, Any] = {}
    if args.agent_answer:
        agent["answer"] = args.agent_answer
    if args.agent_hangup_after is not None:
        agent["hangup_after"] = args.agent_hangup_after
    audio = load_speech(args.audio) if args.audio else b""
    request = {
        "voice_url": voice_url,
        "from": args.from_,
        "to": args.to,
        "audio": base64.b64encode(audio).decode(),
        "hangup_after": args.hangup_after,
        "digits": args.digits,
        "agent": agent,
    }
    auth = aiohttp.BasicAuth(args.account_sid or "", args.auth_token or "")
    timeout = aiohttp.ClientTimeout(total=args.hangup_after + GRACE_S + DIALLED_DRAIN_S + 10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        url = args.sim.rstrip("/") + PATH
        async with session.post(url, json=request, auth=auth) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                raise SimRefused(f"{url} answered {response.status}: {answer.get('error')}")
    if answer["timed_out"]:
        print("error: the call did not end in time", file=sys.stderr)
    parties = [(p["label"], p["summary"], base64.b64decode(p["wav"])) for p in answer["parties"]]
    return bool(answer["ok"]), parties


class SimRefused(Exception):
    pass


async def place_locally(args: argparse.Namespace, voice_url: str) -> tuple[bool, list[Party]]:
    caller_audio = load_speech(args.audio) if args.audio else b""
    agent_audio = load_speech(args.agent_audio) if args.agent_audio else b""
    agent = Phone(
        answer=args.agent_answer or "answer",
        ring_s=1.0,
        audio=agent_audio,
        hangup_after_s=args.agent_hangup_after,
    )
    sim = CarrierSimulator(args.account_sid, args.auth_token, default_phone=agent)
    if not args.auth_token:
        print(
            "warning: TWILIO_AUTH_TOKEN is not set; webhooks are signed with a generated token "
            "the bridge will reject",
            file=sys.stderr,
        )
    address = rest_address(args.api_url)
    call: SimCall | None = None
    try:
        if address is not None:
            try:
                print(f"simulator REST API on {await sim.start(*address)}", flush=True)
            except OSError as error:
                print(f"warning: cannot serve the REST API on {address}: {error}", file=sys.stderr)
        call = await sim.place_call(
            args.from_,
            args.to,
            voice_url,
            audio=caller_audio,
            hangup_after_s=args.hangup_after,
            digits=args.digits,
        )
        try:
            async with asyncio.timeout(args.hangup_after + GRACE_S):
                await call.ended.wait()
        except TimeoutError:
            print("error: the call did not end in time", file=sys.stderr)
        await wait_ended([c for c in sim.calls.values() if c is not call], DIALLED_DRAIN_S)
    finally:
        await sim.close()
    assert call is not None  # place_call either returned or raised
    others = [c for c in sim.calls.values() if c is not call]
    calls = [("caller", call)] + [(f"callee-{i}", c) for i, c in enumerate(others, 1)]
    ok = call.stream_started.is_set() and call.status == "completed"
    return ok, [(label, call_summary(c), c.heard_wav()) for label, c in calls]


async def place(args: argparse.Namespace) -> int:
    voice_url = args.bridge.rstrip("/") + args.voice_path
    print(f"calling {args.to} from {args.from_} via {voice_url}", flush=True)
    try:
        if args.sim:
            ok, parties = await place_in_sim(args, voice_url)
        else:
            ok, parties = await place_locally(args, voice_url)
    except SimRefused as error:
        print(f"error: the simulator refused the call: {error}", file=sys.stderr)
        return 1
    except aiohttp.ClientError as error:
        print(
            f"error: cannot reach the simulator at --sim {args.sim}: {error}. Is `serve` "
            "running, and is this the URL it printed?",
            file=sys.stderr,
        )
        return 1
    out = args.out or default_out()
    print(f"wrote {write_outcome(parties, out)}", flush=True)
    for label, party, _ in parties:
        line = f"{label}: {' -> '.join(party['statuses'])}; heard {party['heard_s']:.1f} s"
        reason = failure_reason(party)
        print(line + (f"; failed: {reason}" if reason else ""))
        for said in party["said"]:
            print(f"  {label} was told: {said['text']!r}")
    if not parties[1:] and parties[0][1]["stream_sids"]:
        print(
            "note: no dialled leg in this simulator: the bridge dialled no one, or dialled into "
            "another carrier (with `make run`, pass the --sim URL it printed)"
        )
    return 0 if ok else 1


def run(args: argparse.Namespace) -> int:
    return asyncio.run(place(args))
