"""The preflight rules for carrier accounts: what the probes learnt from each carrier,
judged. Pure, like rules.py: the facts come in as values (findings.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bridge.carriers.twilio.account import IncomingNumber
from bridge.preflight.findings import Failure, Finding, Level, TelnyxFacts, TwilioFacts
from bridge.preflight.numbers import Step, plan_number


def _unreachable(name: str, setting: str, url: str, failure: Failure) -> Finding:
    return Finding(
        Level.ERROR,
        name,
        f"{failure.message} ({setting}={url})",
        f"check {setting} (unset means the carrier's own API) and outbound network rules",
    )


def twilio_findings(
    settings: Any, facts: TwilioFacts, voice_url: str, others: Sequence[str] = ()
) -> list[Finding]:
    """The account's, then each routed number's (`others`: the other carriers configured,
    whose numbers these may be)."""
    account = facts.account
    if isinstance(account, Failure):
        if account.status is None:
            return [_unreachable("twilio", "TWILIO_API_URL", settings.api_url, account)]
        return [
            Finding(
                Level.ERROR,
                "twilio",
                f"Twilio refused TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN ({account.message})",
                "copy both from the Twilio Console (Account Info); the auth token also checks "
                "every webhook's signature, so with a wrong one every call is refused",
                fatal=account.status == 401,
            )
        ]
    name = f"{account.sid} ({account.friendly_name}, {account.type})"
    if account.status != "active":
        found = [
            Finding(
                Level.ERROR,
                "twilio",
                f"account {name} is {account.status}",
                "reactivate it in the Twilio Console",
            )
        ]
    elif account.type.lower() == "trial":
        found = [
            Finding(
                Level.WARNING,
                "twilio",
                f"account {name} is a trial: callers hear a trial notice first, and only "
                "verified numbers can be dialled",
                "upgrade the account in the Twilio Console before real callers use it",
            )
        ]
    else:
        found = [Finding(Level.OK, "twilio", f"account {name} accepts TWILIO_AUTH_TOKEN")]
    for number, numbers in facts.numbers.items():
        found.append(_number_finding(number, numbers, voice_url, others))
    return found


def _number_finding(
    number: str, found: list[IncomingNumber] | Failure, voice_url: str, others: Sequence[str]
) -> Finding:
    subject = "twilio number"
    if isinstance(found, Failure):
        return Finding(Level.WARNING, subject, f"{number}: cannot look it up ({found.message})")
    plan = plan_number(number, found, voice_url)
    if plan.ok:
        return Finding(Level.OK, subject, f"{number} calls POST {voice_url}")
    todo = plan.todo
    if plan.step is Step.MISSING and others:
        todo = f"nothing, if it is a {'/'.join(others)} number; otherwise {todo}"
    return Finding(Level.WARNING, subject, f"{number} {plan.problem}", todo)


def telnyx_findings(settings: Any, facts: TelnyxFacts, voice_url: str) -> list[Finding]:
    app = facts.application
    if isinstance(app, Failure):
        if app.status is None:
            return [_unreachable("telnyx", "TELNYX_API_URL", settings.api_url, app)]
        if app.status == 404:
            return [
                Finding(
                    Level.ERROR,
                    "telnyx",
                    f"TELNYX_CONNECTION_ID={settings.connection_id} is not a Call Control "
                    "application of this account",
                    "copy the id of the Call Control application (Telnyx portal: Voice > "
                    "Programmable Voice), not a SIP connection's or a number's",
                )
            ]
        return [
            Finding(
                Level.ERROR,
                "telnyx",
                f"Telnyx refused TELNYX_API_KEY ({app.message})",
                "create or copy an API key in the Telnyx portal (Keys & Credentials)",
                fatal=app.status == 401,
            )
        ]
    found = [
        Finding(Level.OK, "telnyx", f"TELNYX_API_KEY accepted; application {app.name!r} ({app.id})")
    ]
    where = "Telnyx portal: Voice > Programmable Voice, the application"
    if app.webhook_url != voice_url:
        found.append(
            Finding(
                Level.WARNING,
                "telnyx",
                f"the application sends its calls to {app.webhook_url or 'no webhook URL'}",
                f"set its webhook URL to {voice_url} ({where})",
            )
        )
    if app.api_version not in (None, "2"):
        found.append(
            Finding(
                Level.WARNING,
                "telnyx",
                f"the application sends API v{app.api_version} webhooks; the bridge reads v2",
                f"set its webhook API version to v2 ({where})",
            )
        )
    if not app.active:
        found.append(
            Finding(
                Level.WARNING, "telnyx", "the application is inactive", f"activate it ({where})"
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class _Credentials:
    settings: str  # the settings a refusal names
    api_setting: str  # where the carrier's API is
    todo: str  # where to find the right ones


CREDENTIALS = {
    "vonage": _Credentials(
        "VONAGE_APPLICATION_ID/VONAGE_PRIVATE_KEY",
        "VONAGE_API_URL",
        "use the Voice application's id and the private key generated with it (Vonage "
        "dashboard: Applications); a key of another application is refused",
    ),
    "plivo": _Credentials(
        "PLIVO_AUTH_ID/PLIVO_AUTH_TOKEN",
        "PLIVO_API_URL",
        "copy both from the Plivo console (Overview); the auth token also checks every "
        "webhook's signature, so with a wrong one every call is refused",
    ),
    "exotel": _Credentials(
        "EXOTEL_ACCOUNT_SID/EXOTEL_API_KEY/EXOTEL_API_TOKEN",
        "EXOTEL_API_URL",
        "copy them from the Exotel dashboard (Settings > API Settings); EXOTEL_API_URL names "
        "your account's cluster (https://api.exotel.com, or https://api.in.exotel.com)",
    ),
}


def account_finding(name: str, settings: Any, proved: str | Failure) -> Finding:
    """A carrier's credentials, by what one read-only request of its API answered."""
    credentials = CREDENTIALS[name]
    if isinstance(proved, Failure):
        if proved.status is None:
            return _unreachable(name, credentials.api_setting, settings.api_url, proved)
        return Finding(
            Level.ERROR,
            name,
            f"{name.capitalize()} refused {credentials.settings} ({proved.message})",
            credentials.todo,
            fatal=proved.status == 401,
        )
    return Finding(Level.OK, name, f"{proved} accepts {credentials.settings}")
