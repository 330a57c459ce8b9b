"""`python -m bridge check`: is this configuration ready for real calls?

Reads the same environment as `serve` and prints one line per check (ok, warning or error:
what, and what to do), then the exact voice-webhook URL to paste into each carrier's console.
Exit status: 0 when nothing is an error, 1 when something is, 2 when the settings themselves
are invalid (the message `serve` would stop with). Nothing is changed, created or billed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from bridge.carriers import registry as carrier_registry
from bridge.config import Config
from bridge.preflight.findings import exit_code, summary
from bridge.preflight.run import CHECK_TIMEOUT_S, preflight
from bridge.settings import ConfigError, Env


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--outbound-only",
        action="store_true",
        help="only outbound calls (POST /v1/calls) are intended: no routes is not a problem",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="check the settings only; ask no service (Kallglot, carriers, database)",
    )
    add_timeout(parser)


def add_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=CHECK_TIMEOUT_S,
        help=f"seconds each request may take (default {CHECK_TIMEOUT_S:g})",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds in (0, 300]")
    return value


def load_config(env: Env) -> Config:
    """The settings `serve` would run with, including what only building the carriers checks
    (a Telnyx public key that does not parse); ConfigError names what is wrong."""
    config = Config.from_env(env)
    carrier_registry.build(config.carriers)  # lazy: opens nothing
    return config


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(f"kallglot-bridge: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(
        preflight(
            config, outbound_only=args.outbound_only, offline=args.offline, timeout_s=args.timeout
        )
    )
    for finding in report.findings:
        print(finding.line())
    if args.offline:
        print("(offline: Kallglot, the carriers and the database were not asked)")
    print("\nvoice webhooks, to paste into each carrier's console:")
    for line in report.webhooks:
        print(f"  {line}")
    print(f"\n{summary(report.findings)}")
    return exit_code(report.findings)
