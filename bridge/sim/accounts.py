"""Each carrier simulator as the bridge's account with that carrier: how to make one, the
bridge settings that point at it, and how a party calls in through it.

One entry per simulated carrier, shared by `demo`, the soak benchmark and the end-to-end tests
(tests/e2e/carrier_<name>.py), so a carrier's settings are spelled in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bridge.sim.carrier import CarrierSimulator
from bridge.sim.exotel import ExotelSimulator, exotel_call_in, exotel_settings
from bridge.sim.plivo import PlivoSimulator
from bridge.sim.telnyx import TelnyxSimulator
from bridge.sim.vonage import VonageSimulator

CALLER_ID = "+15550100000"  # the number the bridge's dialled calls come from, on every carrier


@dataclass(frozen=True, slots=True)
class SimulatedAccount:
    name: str
    # Its class: `simulator()` is a fresh one, whose unknown numbers fail (no default phone).
    simulator: type
    # The bridge's settings for it; webhooks the carrier sends to one fixed URL (an
    # application's, not per call) are pointed at `bridge_url` (None: left where they point).
    settings: Callable[[Any, str | None], dict[str, str]]
    # A party calls our number: (simulator, bridge_url, from_, to, **options) -> its call.
    call_in: Callable[..., Awaitable[Any]]


def _twilio_settings(sim: CarrierSimulator, bridge_url: str | None) -> dict[str, str]:
    return {
        "TWILIO_ACCOUNT_SID": sim.account_sid,
        "TWILIO_AUTH_TOKEN": sim.auth_token,
        "TWILIO_CALLER_ID": CALLER_ID,
        "TWILIO_API_URL": sim.api_url or "",
    }


async def _twilio_call_in(
    sim: CarrierSimulator, bridge_url: str, from_: str, to: str, **options: Any
) -> Any:
    return await sim.place_call(from_, to, bridge_url + "/twilio/voice", **options)


def _telnyx_settings(sim: TelnyxSimulator, bridge_url: str | None) -> dict[str, str]:
    if bridge_url is not None:
        sim.webhook_url = bridge_url + "/telnyx/voice"  # the Call Control application's
    return {
        "TELNYX_API_KEY": sim.api_key,
        "TELNYX_PUBLIC_KEY": sim.public_key,
        "TELNYX_CONNECTION_ID": sim.connection_id,
        "TELNYX_CALLER_ID": CALLER_ID,
        "TELNYX_API_URL": sim.api_url or "",
    }


async def _telnyx_call_in(
    sim: TelnyxSimulator, bridge_url: str, from_: str, to: str, **options: Any
) -> Any:
    return await sim.place_call(from_, to, **options)


def _vonage_settings(sim: VonageSimulator, bridge_url: str | None) -> dict[str, str]:
    """At 8 kHz, so that what each party hears can be followed byte for byte (the product's
    default is 16 kHz; tests/e2e/test_vonage_wideband.py runs that)."""
    if bridge_url is not None:  # the Vonage application's answer and event URLs
        sim.answer_url = sim.event_url = bridge_url + "/vonage/voice"
    return {
        "VONAGE_APPLICATION_ID": sim.application_id,
        "VONAGE_PRIVATE_KEY": sim.private_key,
        "VONAGE_SIGNATURE_SECRET": sim.signature_secret,
        "VONAGE_CALLER_ID": CALLER_ID,
        "VONAGE_API_URL": sim.api_url or "",
        "VONAGE_SAMPLE_RATE": "8000",
    }


async def _vonage_call_in(
    sim: VonageSimulator, bridge_url: str, from_: str, to: str, **options: Any
) -> Any:
    sim.answer_url = sim.event_url = bridge_url + "/vonage/voice"
    return await sim.place_call(from_, to, **options)


def _plivo_settings(sim: PlivoSimulator, bridge_url: str | None) -> dict[str, str]:
    if bridge_url is not None:  # the Plivo application's answer and hangup URLs
        sim.answer_url = sim.hangup_url = bridge_url + "/plivo/voice"
    return {
        "PLIVO_AUTH_ID": sim.auth_id,
        "PLIVO_AUTH_TOKEN": sim.auth_token,
        "PLIVO_CALLER_ID": CALLER_ID,
        "PLIVO_API_URL": sim.api_url or "",
    }


async def _plivo_call_in(
    sim: PlivoSimulator, bridge_url: str, from_: str, to: str, **options: Any
) -> Any:
    sim.answer_url = sim.hangup_url = bridge_url + "/plivo/voice"
    return await sim.place_call(from_, to, **options)


ACCOUNTS: dict[str, SimulatedAccount] = {
    account.name: account
    for account in (
        SimulatedAccount("twilio", CarrierSimulator, _twilio_settings, _twilio_call_in),
        SimulatedAccount("telnyx", TelnyxSimulator, _telnyx_settings, _telnyx_call_in),
        SimulatedAccount("vonage", VonageSimulator, _vonage_settings, _vonage_call_in),
        SimulatedAccount("plivo", PlivoSimulator, _plivo_settings, _plivo_call_in),
        SimulatedAccount("exotel", ExotelSimulator, exotel_settings, exotel_call_in),
    )
}


def account_of(simulator: Any) -> SimulatedAccount:
    """The account entry whose simulator `simulator` is."""
    for account in ACCOUNTS.values():
        if isinstance(simulator, account.simulator):
            return account
    raise TypeError(f"{type(simulator).__name__} is not a simulated carrier")
