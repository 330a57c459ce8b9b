"""The simulated Twilio account: its Account resource and IncomingPhoneNumbers, through the real
`twilio` client (as `check` and `configure-numbers` use them), and calls to its numbers."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bridge.carriers.interface import CarrierError
from bridge.carriers.twilio.account import IncomingNumber, TwilioAccount
from bridge.carriers.twilio.config import TwilioSettings
from bridge.carriers.twilio.signature import SIGNATURE_HEADER, TwilioSignatures
from bridge.sim.carrier import CarrierSimulator
from bridge.sim.carrier_numbers import matches

CALLER_ID = "+15550100000"


@pytest.fixture
async def sim(aiohttp_server: Any) -> Any:
    carrier = CarrierSimulator()
    carrier.api_url = str((await aiohttp_server(carrier.app)).make_url("")).rstrip("/")
    yield carrier
    await carrier.close()


def account(sim: CarrierSimulator, token: str | None = None) -> TwilioAccount:
    assert sim.api_url is not None
    return TwilioAccount(
        TwilioSettings(sim.account_sid, token or sim.auth_token, CALLER_ID, sim.api_url)
    )


async def test_the_account_resource_proves_the_credentials(sim: CarrierSimulator) -> None:
    sim.account_type = "Trial"
    async with account(sim) as twilio:
        info = await twilio.fetch()
    assert (info.sid, info.status, info.type) == (sim.account_sid, "active", "Trial")

    async with account(sim, "wrong-token") as twilio:
        with pytest.raises(CarrierError) as refused:
            await twilio.fetch()
    assert (refused.value.status, refused.value.code) == (401, 20003)


async def test_numbers_are_found_by_whole_or_partial_number_across_pages(
    sim: CarrierSimulator,
) -> None:
    wanted = sim.own_number("+15550100001", "https://old.example.com/voice")
    for n in range(120):
        sim.own_number(f"+1555020{n:04d}")
    async with account(sim) as twilio:
        assert await twilio.incoming_numbers("+15550100001") == [
            IncomingNumber(wanted.sid, "+15550100001", "https://old.example.com/voice", "POST")
        ]
        assert await twilio.incoming_numbers("+15550100009") == []
        partial = await twilio._request(
            "list", twilio._account().incoming_phone_numbers.list_async(phone_number="555020")
        )
    assert len(partial) == 120  # 50 a page: the client followed next_page_uri twice
    assert matches("+1555010000*", "+15550100001")
    assert not matches("+1555010000*", "+1555010000")


async def test_an_update_sets_the_voice_url_and_refuses_nonsense(sim: CarrierSimulator) -> None:
    number = sim.own_number("+15550100001")
    async with account(sim) as twilio:
        updated = await twilio.set_voice_url(number.sid, "https://bridge.example.com/twilio/voice")
        assert updated.voice_url == "https://bridge.example.com/twilio/voice"
        with pytest.raises(CarrierError) as bad_url:
            await twilio.set_voice_url(number.sid, "ftp://nope")
        with pytest.raises(CarrierError) as bad_method:
            await twilio.set_voice_url(number.sid, "https://x.example.com", "PUT")
        with pytest.raises(CarrierError) as unknown:
            await twilio.set_voice_url("PN" + "0" * 32, "https://x.example.com")
    assert (bad_url.value.status, bad_url.value.code) == (400, 21205)
    assert (bad_method.value.status, bad_method.value.code) == (400, 21205)
    assert (unknown.value.status, unknown.value.code) == (404, 20404)
    assert (
        number.voice_url == "https://bridge.example.com/twilio/voice"
    )  # the bad ones changed nothing
    assert len(number.updates) == 1


async def test_a_call_to_an_owned_number_fetches_its_voice_url(
    sim: CarrierSimulator, aiohttp_server: Any
) -> None:
    heard: list[dict[str, str]] = []
    signatures = TwilioSignatures(sim.auth_token)

    async def voice(request: web.Request) -> web.Response:
        form = await request.post()
        assert signatures.validate_webhook(
            str(request.url), form, request.headers.get(SIGNATURE_HEADER)
        )
        heard.append({key: str(value) for key, value in form.items()})
        return web.Response(
            text="<Response><Say>Hello</Say><Hangup/></Response>", content_type="text/xml"
        )

    app = web.Application()
    app.router.add_post("/twilio/voice", voice)
    server = await aiohttp_server(app)
    number = sim.own_number("+15550100001")
    with pytest.raises(LookupError):
        await sim.call_number("+15550100003", "+15550100001")  # no voice URL yet
    async with account(sim) as twilio:
        await twilio.set_voice_url(number.sid, str(server.make_url("/twilio/voice")))

    async with asyncio.timeout(10):
        call = await sim.call_number("+15550100003", "+15550100001")
        await call.ended.wait()
    assert [(h["To"], h["From"], h["CallSid"]) for h in heard] == [
        ("+15550100001", "+15550100003", call.sid)
    ]
    with pytest.raises(LookupError):
        await sim.call_number("+15550100003", "+15550100099")  # not the account's


async def test_the_api_needs_the_accounts_credentials(sim: CarrierSimulator) -> None:
    url = f"{sim.api_url}/2010-04-01/Accounts/{sim.account_sid}/IncomingPhoneNumbers.json"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 401
        assert (await response.json())["code"] == 20003
