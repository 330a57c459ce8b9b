"""Whether a routed Twilio number calls the bridge, and what to change so it does. Pure.

Shared by the preflight check (which reports) and `configure-numbers` (which changes): given
what Twilio holds for the number and the bridge's voice webhook, one plan per number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from bridge.carriers.twilio.account import IncomingNumber

METHOD = "POST"  # the bridge's voice webhook reads a form body
CONSOLE = "Twilio Console: Phone Numbers > Manage > Active numbers"


class Step(StrEnum):
    NONE = "none"  # already right
    SET = "set"  # VoiceUrl/VoiceMethod to change
    MISSING = "missing"  # not a number of this account
    BLOCKED = "blocked"  # a TwiML App or SIP trunk takes its calls: VoiceUrl would be ignored


@dataclass(frozen=True, slots=True)
class NumberPlan:
    number: str
    step: Step
    resource: IncomingNumber | None = None  # the IncomingPhoneNumber, when there is one
    problem: str = ""  # what is wrong, for a person ("calls GET https://old")
    todo: str = ""

    @property
    def ok(self) -> bool:
        return self.step is Step.NONE


def plan_number(number: str, found: Sequence[IncomingNumber], voice_url: str) -> NumberPlan:
    """What to do about `number`, given its IncomingPhoneNumbers (exact matches) on Twilio."""
    if not found:
        return NumberPlan(
            number,
            Step.MISSING,
            problem="is not a number of this Twilio account",
            todo=f"buy or port it ({CONSOLE}), or remove its route",
        )
    resource = found[0]
    if resource.voice_application_sid or resource.trunk_sid:
        owner = (
            f"TwiML App {resource.voice_application_sid}"
            if resource.voice_application_sid
            else f"SIP trunk {resource.trunk_sid}"
        )
        return NumberPlan(
            number,
            Step.BLOCKED,
            resource,
            problem=f"({resource.sid}) sends its calls to {owner}, so its voice URL is ignored",
            todo=f'set "A call comes in" to Webhook in the number\'s voice settings ({CONSOLE})',
        )
    current = f"{resource.voice_method or METHOD} {resource.voice_url}"
    if resource.voice_url == voice_url and (resource.voice_method or METHOD) == METHOD:
        return NumberPlan(number, Step.NONE, resource)
    return NumberPlan(
        number,
        Step.SET,
        resource,
        problem=f"({resource.sid}) calls {current if resource.voice_url else 'no voice URL'}",
        todo="run python -m bridge configure-numbers --apply",
    )
