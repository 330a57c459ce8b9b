"""The bridge's Exotel REST client against the Exotel simulator: a dial as Exotel takes it,
Exotel's refusals as errors that say what to fix, and retries only where no call can have been
placed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from bridge.carriers.exotel.auth import unseal
from bridge.carriers.exotel.carrier import ExotelControl
from bridge.carriers.exotel.config import ExotelSettings
from bridge.carriers.exotel.rest import ExotelRest
from bridge.carriers.interface import CarrierError, SayAndHangUp, Speech, StreamTarget, Transfer
from bridge.sim.exotel import ExotelSimulator, exotel_settings
from bridge.sim.softphone import Phone
from tests.ports import ReservedPort

PARTY = "+15550100002"
TARGET = StreamTarget("ws://127.0.0.1:9/exotel/media/call_1", {"ticket": "t" * 500})
STATUS_URL = "http://127.0.0.1:9/exotel/status/call_1/agent"


@pytest.fixture
async def sim(aiohttp_server: Any) -> AsyncIterator[ExotelSimulator]:
    simulator = ExotelSimulator(default_phone=Phone(answer="no-answer", ring_s=0.05))
    simulator.api_url = str((await aiohttp_server(simulator.app)).make_url("")).rstrip("/")
    yield simulator
    await simulator.close()


def settings_of(sim: ExotelSimulator) -> ExotelSettings:
    return ExotelSettings.from_env(exotel_settings(sim, None))


async def test_a_dial_reaches_exotel_as_it_expects_it(sim: ExotelSimulator) -> None:
    settings = settings_of(sim)
    control = ExotelControl(ExotelRest(settings), settings)
    try:
        sid = await control.dial(PARTY, settings.caller_id, TARGET, STATUS_URL, 7)
    finally:
        await control.close()
    call = sim.calls[sid]
    assert (call.direction, call.to, call.from_) == ("outbound-api", PARTY, settings.caller_id)
    assert call.setup.timeout_s == 7
    assert call.setup.status_events == ("terminal", "answered")
    assert unseal(call.setup.custom_field, settings.webhook_password) == TARGET
    callback = call.setup.status_callback or ""
    assert callback.startswith(f"http://{settings.webhook_user}:")  # Exotel proves itself
    assert callback.endswith("@127.0.0.1:9/exotel/status/call_1/agent")
    async with asyncio.timeout(5):
        await call.ended.wait()
    assert call.statuses == ["ringing", "no-answer"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"api_token": "wrong"}, "HTTP 401: Authentication is required"),
        ({"caller_id": "+15550199999"}, "HTTP 400: CallerId '+15550199999' is not an ExoPhone"),
        ({"app_id": "1"}, "HTTP 400: Url 'http://my.exotel.com/"),
    ],
)
async def test_exotels_refusals_say_what_was_wrong(
    sim: ExotelSimulator, change: dict[str, str], words: str
) -> None:
    settings = replace(settings_of(sim), **change)  # type: ignore[arg-type]
    rest = ExotelRest(settings)
    try:
        with pytest.raises(CarrierError) as refused:
            await ExotelControl(rest, settings).dial(PARTY, settings.caller_id, TARGET, "", 5)
    finally:
        await rest.close()
    assert words in str(refused.value)
    if "401" in words:
        assert "check EXOTEL_API_KEY and EXOTEL_API_TOKEN" in str(refused.value)
    assert not sim.calls


async def test_a_gateway_error_is_retried_and_rings_the_party_once(sim: ExotelSimulator) -> None:
    settings = settings_of(sim)
    sim.dial_failures = [503, 502]
    rest = ExotelRest(settings)
    try:
        sid = await rest.connect({"From": PARTY, "CallerId": settings.caller_id, "Url": _flow(sim)})
    finally:
        await rest.close()
    assert list(sim.calls) == [sid]
    assert sim.dial_failures == []


async def test_an_error_after_which_a_call_may_exist_is_not_retried(sim: ExotelSimulator) -> None:
    settings = settings_of(sim)
    sim.dial_failures = [500, 503]
    rest = ExotelRest(settings)
    try:
        with pytest.raises(CarrierError, match="HTTP 500") as refused:
            await rest.connect({"From": PARTY, "CallerId": settings.caller_id, "Url": _flow(sim)})
    finally:
        await rest.close()
    assert refused.value.status == 500
    assert sim.dial_failures == [503]  # one attempt only


async def test_an_unreachable_api_is_retried_then_reported() -> None:
    reserved = ReservedPort()  # nothing listens there
    env = {
        "EXOTEL_ACCOUNT_SID": "kallglot1",
        "EXOTEL_API_KEY": "k",
        "EXOTEL_API_TOKEN": "t",
        "EXOTEL_CALLER_ID": "+15550100000",
        "EXOTEL_APP_ID": "1",
        "EXOTEL_WEBHOOK_USER": "exotel",
        "EXOTEL_WEBHOOK_PASSWORD": "0123456789abcdef",
        "EXOTEL_API_URL": f"http://127.0.0.1:{reserved.port}",
    }
    rest = ExotelRest(ExotelSettings.from_env(env))
    try:
        with pytest.raises(CarrierError, match="could not reach Exotel to dial"):
            await rest.connect({"From": PARTY})
    finally:
        await rest.close()


async def test_hang_up_and_redirect_need_no_rest_call(sim: ExotelSimulator) -> None:
    """Exotel has neither; both succeed at once (the socket close does the work)."""
    settings = settings_of(sim)
    sim.api_url = "http://127.0.0.1:9"  # any request would fail
    control = ExotelControl(ExotelRest(replace(settings, api_url=sim.api_url)), settings)
    await control.hang_up("sid")
    await control.redirect("sid", SayAndHangUp((Speech("Sorry."),)))
    await control.redirect("sid", Transfer("+15550100009"))
    await control.settle(0.1)
    await control.close()


def _flow(sim: ExotelSimulator) -> str:
    return f"http://my.exotel.com/{sim.account_sid}/exoml/start_voice/{sim.app_id}"
