"""Running the checks: the probes together (bounded), then the rules over what they found."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bridge.carriers.exotel import account as exotel_account
from bridge.carriers.plivo import account as plivo_account
from bridge.carriers.vonage import account as vonage_account
from bridge.config import Config
from bridge.preflight import carrier_rules, probes, rules
from bridge.preflight.findings import Facts, Finding

# Each carrier without a probe of its own above: one read-only request that proves its
# credentials (bridge/carriers/<name>/account.py).
ACCOUNT_CHECKS: dict[str, Callable[[Any, float], Awaitable[str]]] = {
    "vonage": vonage_account.check_account,
    "plivo": plivo_account.check_account,
    "exotel": exotel_account.check_account,
}
CHECK_TIMEOUT_S = 5.0  # per request, for the command: an operator is waiting
STARTUP_TIMEOUT_S = 3.0  # per request, at serve's start-up: an unreachable service only delays it


@dataclass(frozen=True, slots=True)
class Report:
    findings: list[Finding]
    webhooks: list[str]  # per carrier: the voice-webhook URL to paste into its console


async def gather_facts(
    config: Config, timeout_s: float, *, database: bool = True, numbers: bool = True
) -> Facts:
    """Everything the probes can learn under `config`, asked at once."""
    jobs: dict[str, Awaitable[Any]] = {}
    if config.kallglot.api_key is not None:
        jobs["kallglot"] = probes.kallglot(config.kallglot, timeout_s)
    twilio, telnyx = config.carriers.get("twilio"), config.carriers.get("telnyx")
    if twilio is not None:
        routed = list(config.bridge.routes.by_number) if numbers else []
        jobs["twilio"] = probes.twilio(twilio, routed, timeout_s)
    if telnyx is not None:
        jobs["telnyx"] = probes.telnyx(telnyx, timeout_s)
    proofs = {
        name: probes.account(ACCOUNT_CHECKS[name](settings, timeout_s))
        for name, settings in config.carriers.items()
        if name in ACCOUNT_CHECKS
    }
    if database:
        jobs["database"] = probes.database(config.store, timeout_s)
    results = await asyncio.gather(*jobs.values(), *proofs.values())
    accounts = dict(zip(proofs, results[len(jobs) :], strict=True))
    return Facts(**dict(zip(jobs, results[: len(jobs)], strict=True)), accounts=accounts)


def judge(config: Config, facts: Facts, *, outbound_only: bool = False) -> list[Finding]:
    """Every check's finding: the settings', then each probe's."""
    found = rules.settings_findings(config, outbound_only=outbound_only)
    if facts.kallglot is not None:
        found.append(rules.kallglot_finding(config.kallglot.api_url, facts.kallglot))
    if facts.twilio is not None:
        twilio = config.carriers["twilio"]
        others = [name for name in config.carriers if name != "twilio"]
        voice_url = rules.voice_url(config, "twilio")
        found += carrier_rules.twilio_findings(twilio, facts.twilio, voice_url, others)
    if facts.telnyx is not None:
        telnyx = config.carriers["telnyx"]
        found += carrier_rules.telnyx_findings(
            telnyx, facts.telnyx, rules.voice_url(config, "telnyx")
        )
    for name, proved in facts.accounts.items():
        found.append(carrier_rules.account_finding(name, config.carriers[name], proved))
    if facts.database is not None:
        found.append(rules.database_finding(facts.database))
    return found


async def preflight(
    config: Config,
    *,
    outbound_only: bool = False,
    offline: bool = False,
    timeout_s: float = CHECK_TIMEOUT_S,
) -> Report:
    """`python -m bridge check`: every check; `offline` skips those that need the network."""
    facts = Facts() if offline else await gather_facts(config, timeout_s)
    return Report(judge(config, facts, outbound_only=outbound_only), rules.voice_webhooks(config))


async def startup_errors(config: Config, timeout_s: float = STARTUP_TIMEOUT_S) -> list[str]:
    """What makes `serve` pointless to start, in the words `check` uses; [] when nothing does.

    Only what is certainly wrong: a key or token the service refused (401), a real carrier
    handed a URL it cannot reach, real numbers with no route and no API. Whatever may pass
    (an unreachable service, a database that is down, a number's webhook) is left to `check`
    and to readiness. Asks Kallglot and the carriers (not the database, not the numbers),
    each within `timeout_s`, all at once.
    """
    facts = await gather_facts(config, timeout_s, database=False, numbers=False)
    return [f.sentence() for f in judge(config, facts) if f.fatal]
