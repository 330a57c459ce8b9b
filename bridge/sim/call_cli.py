"""`python -m bridge call`: place one simulated inbound call against a running bridge.

The caller dials `--to`; the simulator POSTs the bridge's voice webhook (signed with
TWILIO_AUTH_TOKEN, so the bridge must share it), runs the TwiML, speaks `--audio` into the media
stream and hangs up after `--hangup-after` seconds. Beside it, the simulator's REST API is served
at TWILIO_API_URL (when that is a loopback address) so that a bridge configured with it dials the
agent into this same simulator; every dialled number answers and speaks `--agent-audio`.
What each party heard goes to `--out` as WAV, plus `summary.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bridge.sim.carrier import CarrierSimulator, SimCall
from bridge.sim.carrier_report import load_speech, write_report
from bridge.sim.softphone import Phone
from bridge.tasks import cancel_and_wait

LOOPBACK = ("127.0.0.1", "localhost", "::1")
GRACE_S = 30.0  # beyond --hangup-after, for ringing, menus and the bridge's teardown
DIALLED_DRAIN_S = 5.0  # how long dialled legs get to end after the caller hung up


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument("--bridge", required=True, help="the bridge's base URL")
    parser.add_argument("--to", required=True, help="the number dialled (one of the bridge's)")
    parser.add_argument("--from", dest="from_", default="+15550100001", metavar="NUMBER")
    parser.add_argument("--audio", type=Path, help="WAV the caller speaks (default: silence)")
    parser.add_argument("--hangup-after", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--digits", default="", help="keys pressed at menus, e.g. 1")
    parser.add_argument("--out", type=Path, default=Path("demo-out"))
    parser.add_argument("--voice-path", default="/twilio/voice")
    parser.add_argument("--agent-audio", type=Path, help="WAV dialled phones speak")
    parser.add_argument("--agent-hangup-after", type=float, help="dialled phones hang up after N s")
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


async def _wait_ended(calls: list[SimCall], timeout_s: float) -> None:
    waits = [asyncio.create_task(call.ended.wait()) for call in calls]
    if not waits:
        return
    _, pending = await asyncio.wait(waits, timeout=timeout_s)
    await cancel_and_wait(pending)


async def place(args: argparse.Namespace) -> int:
    caller_audio = load_speech(args.audio) if args.audio else b""
    agent_audio = load_speech(args.agent_audio) if args.agent_audio else b""
    agent = Phone(ring_s=1.0, audio=agent_audio, hangup_after_s=args.agent_hangup_after)
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
        voice_url = args.bridge.rstrip("/") + args.voice_path
        print(f"calling {args.to} from {args.from_} via {voice_url}", flush=True)
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
        await _wait_ended([c for c in sim.calls.values() if c is not call], DIALLED_DRAIN_S)
    finally:
        await sim.close()
        parties = [("caller", c) for c in [call] if c is not None]
        parties += [
            (f"callee-{i}", c)
            for i, c in enumerate((c for c in sim.calls.values() if c is not call), 1)
        ]
        if parties:
            print(f"wrote {write_report(parties, args.out)}", flush=True)
    for label, party in parties:
        print(f"{label}: {' -> '.join(party.statuses)}; heard {len(party.heard) / 8000:.1f} s")
    ok = call is not None and call.stream_started.is_set() and call.status == "completed"
    return 0 if ok else 1


def run(args: argparse.Namespace) -> int:
    return asyncio.run(place(args))
