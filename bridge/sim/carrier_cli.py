"""`python -m bridge sim-carrier`: serve the Twilio simulator's REST API on its own.

Point the bridge at it with the printed TWILIO_API_URL / TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN
(simulator credentials, generated unless given) and every call the bridge dials rings a
simulated phone. On Ctrl-C the recordings of those phones go to `--out`, if given.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path
from typing import cast

from bridge.sim.carrier import CarrierSimulator
from bridge.sim.carrier_report import load_speech, write_report
from bridge.sim.softphone import ANSWER_MODES, AnswerMode, Phone, check_clock_ppm


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089, help="REST API port (default 8089)")
    parser.add_argument(
        "--account-sid", default=os.environ.get("TWILIO_ACCOUNT_SID"), help="default: generated"
    )
    parser.add_argument(
        "--auth-token", default=os.environ.get("TWILIO_AUTH_TOKEN"), help="default: generated"
    )
    parser.add_argument(
        "--phone",
        action="append",
        default=[],
        metavar="NUMBER[:MODE]",
        help=f"a number in the directory; MODE one of {', '.join(ANSWER_MODES)} (default answer)."
        " Without any --phone every number answers.",
    )
    parser.add_argument("--audio", type=Path, help="WAV the answering phones speak")
    parser.add_argument("--ring", type=float, default=1.0, help="seconds phones ring")
    parser.add_argument("--hangup-after", type=float, help="phones hang up after N seconds")
    parser.add_argument("--out", type=Path, help="write what each phone heard here on exit")
    parser.add_argument(
        "--clock-ppm",
        type=clock_ppm,
        default=0.0,
        metavar="PPM",
        help="the carrier's media clock runs this many parts per million fast (negative: slow),"
        " for its voice and its playback alike; within +-100000 (default 0)",
    )


def clock_ppm(value: str) -> float:
    """`--clock-ppm`: a number within +-100000, or argparse's usage error saying why not."""
    try:
        ppm = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of ppm, got {value!r}") from None
    try:
        return check_clock_ppm(ppm)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def phones_from(args: argparse.Namespace) -> tuple[dict[str, Phone], Phone]:
    audio = load_speech(args.audio) if args.audio else b""
    answering = Phone(ring_s=args.ring, audio=audio, hangup_after_s=args.hangup_after)
    phones: dict[str, Phone] = {}
    for entry in args.phone:
        number, _, mode = entry.partition(":")
        mode = mode or "answer"
        if mode not in ANSWER_MODES:
            raise SystemExit(f"--phone {entry}: mode must be one of {', '.join(ANSWER_MODES)}")
        phones[number] = Phone(cast(AnswerMode, mode), args.ring, audio, args.hangup_after)
    return phones, answering


async def serve(args: argparse.Namespace) -> int:
    phones, answering = phones_from(args)
    sim = CarrierSimulator(args.account_sid, args.auth_token, None if phones else answering)
    sim.clock_ppm = args.clock_ppm
    for number, phone in phones.items():
        sim.add_phone(number, phone)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        api_url = await sim.start(args.host, args.port)
        print(f"Twilio simulator listening on {api_url}", flush=True)
        print(f"TWILIO_API_URL={api_url}", flush=True)
        print(f"TWILIO_ACCOUNT_SID={sim.account_sid}", flush=True)
        print(f"TWILIO_AUTH_TOKEN={sim.auth_token}  # simulator credential", flush=True)
        await stop.wait()
    finally:
        parties = [
            (f"{i:02d}-{call.to.lstrip('+')}", call) for i, call in enumerate(sim.calls.values(), 1)
        ]
        await sim.close()
        if args.out and parties:
            print(f"wrote {write_report(parties, args.out)}", flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(serve(args))
