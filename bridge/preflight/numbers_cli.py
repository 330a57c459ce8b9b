"""`python -m bridge configure-numbers`: point every routed Twilio number at the bridge.

For each number in BRIDGE_ROUTES, finds its IncomingPhoneNumber on the Twilio account and sets
its voice webhook ("A call comes in") to `POST $BRIDGE_PUBLIC_URL/twilio/voice`. Without
`--apply` it only prints what it would change. Exit status: 0 when every number is (or would
be) right, 1 when one is missing, blocked or failed, 2 when the settings are invalid.
Telnyx numbers need nothing per number: they follow their Call Control application's webhook
URL, which `python -m bridge check` compares.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable

from bridge.carriers.interface import CarrierError
from bridge.carriers.twilio.account import TwilioAccount
from bridge.config import Config
from bridge.preflight import rules
from bridge.preflight.check_cli import add_timeout, load_config
from bridge.preflight.numbers import METHOD, NumberPlan, Step, plan_number
from bridge.preflight.run import CHECK_TIMEOUT_S
from bridge.settings import ConfigError

Say = Callable[[str], None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--apply", action="store_true", help="change the numbers (default: print what would change)"
    )
    add_timeout(parser)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(os.environ)
    except ConfigError as exc:
        print(f"kallglot-bridge: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(configure(config, apply=args.apply, timeout_s=args.timeout))


def _refusal(config: Config) -> str | None:
    """Why there is nothing this command can (or should) do, or None."""
    twilio = config.carriers.get("twilio")
    if twilio is None:
        return (
            "no Twilio account is configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, "
            "TWILIO_CALLER_ID); Telnyx numbers follow their Call Control application's "
            "webhook URL (python -m bridge check compares it)"
        )
    if not config.bridge.routes.by_number:
        return "BRIDGE_ROUTES routes no numbers: nothing to configure"
    problem = rules.public_url_problem(config.bridge.public_url)
    if rules.is_real("twilio", twilio) and problem is not None:
        return (
            f"BRIDGE_PUBLIC_URL={config.bridge.public_url} {problem}: Twilio could not reach "
            f"the bridge there; {rules.TUNNEL}"
        )
    return None


async def configure(
    config: Config, *, apply: bool, timeout_s: float = CHECK_TIMEOUT_S, say: Say = print
) -> int:
    if (refusal := _refusal(config)) is not None:
        say(f"configure-numbers: {refusal}")
        return 1
    url = rules.voice_url(config, "twilio")
    other_carriers = sorted(set(config.carriers) - {"twilio"})
    failed = pending = changed = 0
    async with TwilioAccount(config.carriers["twilio"], timeout_s) as account:
        try:
            info = await account.fetch()
        except CarrierError as error:
            say(f"configure-numbers: {error}; check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
            return 1
        say(f"Twilio account {info.sid}: voice webhook {METHOD} {url}")
        for number in config.bridge.routes.by_number:
            try:
                plan = plan_number(number, await account.incoming_numbers(number), url)
            except CarrierError as error:
                say(f"  {number}  cannot look it up: {error}")
                failed += 1
                continue
            if plan.step is Step.SET and apply:
                assert plan.resource is not None
                try:
                    await account.set_voice_url(plan.resource.sid, url, METHOD)
                except CarrierError as error:
                    say(f"  {number}  {plan.resource.sid}  failed: {error}")
                    failed += 1
                    continue
                changed += 1
            pending += plan.step is Step.SET and not apply
            failed += _report(plan, apply, url, other_carriers, say)
    if apply:
        say(f"{changed} changed, {failed} with problems")
    elif pending:
        say(f"{pending} to change: run again with --apply to change them")
    else:
        say(f"nothing to change, {failed} with problems")
    return 1 if failed else 0


def _report(plan: NumberPlan, apply: bool, url: str, others: list[str], say: Say) -> int:
    """One line for `plan`; 1 when it is a problem left for the operator."""
    sid = plan.resource.sid if plan.resource is not None else ""
    if plan.step is Step.NONE:
        say(f"  {plan.number}  {sid}  already {METHOD} {url}")
    elif plan.step is Step.SET:
        assert plan.resource is not None
        current = plan.resource.voice_url or "no voice URL"
        verb = "set" if apply else "would set"
        say(f"  {plan.number}  {sid}  {verb}: {current} -> {METHOD} {url}")
    elif plan.step is Step.MISSING and others:
        say(
            f"  {plan.number}  not on this Twilio account: one of {', '.join(others)}? "
            "Those follow their carrier's application or flow, not a per-number URL"
        )
    else:
        say(f"  {plan.number}  {plan.problem} -> {plan.todo}")
        return 1
    return 0
