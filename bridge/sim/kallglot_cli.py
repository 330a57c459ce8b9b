"""`python -m bridge sim-kallglot`: run the Kallglot simulator on a local port.

It prints the two settings the bridge needs (KALLGLOT_API_URL, KALLGLOT_API_KEY). Faults set here
are the starting point; `POST /_sim/faults` changes them while it runs, and `GET /_sim/sessions`
shows what each session received.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiohttp import web

from bridge.audio import PCM16_16K
from bridge.log import configure_logging
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.kallglot_state import Faults
from bridge.sim.kallglot_translate import check_chunk_bytes


def _failure(value: str) -> tuple[int, int]:
    status, _, count = value.partition(":")
    try:
        return int(status), int(count or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected STATUS[:COUNT] like 503:3, got {value!r}"
        ) from None


def _chunk_bytes(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of bytes, got {value!r}") from None
    try:
        check_chunk_bytes(size, PCM16_16K)  # either protocol may connect: whole PCM16 samples
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return size


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765, 0: any)")
    parser.add_argument("--api-key", default="sk_test_sim", help="the one API key accepted")
    parser.add_argument("--credits", type=int, default=1000, help="API credits available")
    parser.add_argument(
        "--delay", type=float, default=0.3, help="translation delay in seconds (0 = fast mode)"
    )
    parser.add_argument(
        "--output-shape",
        choices=("auto", "nested", "flat"),
        default="auto",
        help="translated-audio message shape (auto: nested for current clients, flat for legacy)",
    )
    parser.add_argument("--token-ttl", type=float, default=300.0, help="stream token lifetime (s)")
    parser.add_argument(
        "--keep-audio",
        action="store_true",
        help="keep every session's raw audio in memory (off: only byte counts are kept)",
    )
    parser.add_argument(
        "--talkspurts",
        action="store_true",
        help="send translated audio only while the speaker is in an utterance (gaps between)",
    )
    parser.add_argument(
        "--output-chunk-bytes",
        type=_chunk_bytes,
        metavar="N",
        help="translated audio in messages of exactly N bytes (even: whole 16-bit samples for"
        " legacy clients; e.g. 760 = 95 ms of mu-law); default one message per input chunk",
    )
    parser.add_argument("--webhook-url", help="where to POST signed webhooks")
    parser.add_argument("--webhook-secret", default="whsec_sim", help="webhook signing secret")
    faults = parser.add_argument_group("faults")
    faults.add_argument("--rest-latency", type=float, default=0.0, help="extra REST latency (s)")
    faults.add_argument(
        "--fail-creates",
        type=_failure,
        action="append",
        default=[],
        metavar="STATUS[:N]",
        help="answer the next N creates with STATUS (429, 500, 502, 503); repeatable",
    )
    faults.add_argument("--retry-after", type=float, help="Retry-After on injected 429/503")
    faults.add_argument("--drop-after", type=float, help="close every stream after N seconds")
    faults.add_argument("--stall", action="store_true", help="streams stop answering")
    faults.add_argument(
        "--refuse-reconnects", action="store_true", help="refuse every connect after the first"
    )


def run(args: argparse.Namespace) -> int:
    configure_logging()
    fault_set = Faults(
        rest_latency_s=args.rest_latency,
        drop_after_s=args.drop_after,
        stall=args.stall,
        refuse_reconnects=args.refuse_reconnects,
    )
    for status, count in args.fail_creates:
        fault_set.fail_next_creates(status, count, retry_after=args.retry_after)
    sim = KallglotSimulator(
        api_key=args.api_key,
        credits=args.credits,
        translation_delay_s=args.delay,
        output_shape=args.output_shape,
        token_ttl_s=args.token_ttl,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret if args.webhook_url else None,
        faults=fault_set,
        keep_audio=args.keep_audio,
        talkspurts=args.talkspurts,
        output_chunk_bytes=args.output_chunk_bytes,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(sim, args.host, args.port, args.api_key))
    return 0


async def _serve(sim: KallglotSimulator, host: str, port: int, api_key: str) -> None:
    """Serves until SIGINT/SIGTERM. The banner is printed once the port is actually bound, so
    a script (or test) that waits for it can connect immediately; `--port 0` picks a free one."""
    runner = web.AppRunner(sim.app())
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0][1]
        base = f"http://{host}:{bound}"
        print(f"Kallglot simulator on {base}  (debug view: {base}/_sim/sessions)", flush=True)
        print(f"  export KALLGLOT_API_URL={base}/v1", flush=True)
        print(f"  export KALLGLOT_API_KEY={api_key}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
