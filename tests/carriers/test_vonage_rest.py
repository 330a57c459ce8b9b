"""The Vonage REST client against the Vonage simulator: dial, hang up, transfer, retries, and
what a wrong key or a call already over look like."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web

from bridge.carriers.interface import CarrierError, SayAndHangUp, Speech, StreamTarget
from bridge.carriers.vonage.appjwt import generate_private_key
from bridge.carriers.vonage.carrier import VonageControl
from bridge.carriers.vonage.config import VonageSettings
from bridge.carriers.vonage.rest import VonageRest
from bridge.sim.softphone import Phone
from bridge.sim.vonage import VonageSimulator

CALLEE = "+15550100002"
TARGET = StreamTarget("ws://127.0.0.1:9/vonage/media/call_x", {"ticket": "t.s"})


@pytest.fixture
async def sim(aiohttp_server: Any) -> AsyncIterator[VonageSimulator]:
    simulator = VonageSimulator()
    simulator.api_url = str((await aiohttp_server(simulator.app)).make_url("")).rstrip("/")
    simulator.add_phone(CALLEE, Phone(ring_s=5.0))
    yield simulator
    await simulator.close()


def settings(sim: VonageSimulator, **changes: Any) -> VonageSettings:
    made = VonageSettings(
        sim.application_id,
        sim.private_key,
        sim.signature_secret,
        "+15550100000",
        api_url=sim.api_url or "",
        sample_rate=8000,
    )
    return replace(made, **changes)


async def test_dial_rings_the_number_with_our_ncco_and_returns_its_uuid(
    sim: VonageSimulator,
) -> None:
    control = VonageControl(VonageRest(settings(sim)), settings(sim))
    try:
        uuid = await control.dial(CALLEE, "+15550100000", TARGET, "http://127.0.0.1:9/s", 30)
        call = await sim.next_call(to=CALLEE)
        assert call.sid == uuid
        assert call.from_ == "+15550100000"  # written 15550100000 on the wire
        (connect,) = call.setup.ncco
        assert connect.rate == 8000
        assert connect.headers == {"ticket": "t.s"}
        assert control.dialled.take({"ticket": "t.s"}) == uuid  # the stream will find it
        await control.hang_up(uuid)
        await call.ended.wait()
        assert call.api_updates == ["hangup"]
        assert call.status == "cancelled"  # hung up while ringing
        await control.hang_up(uuid)  # already over: success, not an error
    finally:
        await control.close()


async def listener(request: web.Request) -> web.WebSocketResponse:
    """A media endpoint that takes the stream and reads it until it closes."""
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for _ in ws:
        pass
    return ws


async def test_a_redirect_replaces_the_ncco_with_the_apology(
    sim: VonageSimulator, aiohttp_server: Any
) -> None:
    media = web.Application()
    media.router.add_get("/vonage/media/{call_id}", listener)
    target = StreamTarget(
        str((await aiohttp_server(media)).make_url("/vonage/media/c")).replace("http", "ws"),
        {"ticket": "t.s"},
    )
    sim.add_phone(CALLEE, Phone(ring_s=0.0))
    control = VonageControl(VonageRest(settings(sim)), settings(sim))
    try:
        uuid = await control.dial(CALLEE, "+15550100000", target, "http://127.0.0.1:9/s", 30)
        call = await sim.next_call(to=CALLEE)
        async with asyncio.timeout(10):
            await call.stream_started.wait()
            await control.redirect(uuid, SayAndHangUp((Speech("Sorry, goodbye.", "en-GB"),)))
            await call.wait_said("Sorry, goodbye.")
            await call.ended.wait()
        assert call.api_updates == ["transfer"]
        assert call.said[-1].language == "en-GB"
        assert call.status == "completed"  # the NCCO ran out
        assert call.closed_by == "carrier"  # the transfer ended the stream
    finally:
        await control.close()


async def test_a_wrong_private_key_is_refused_saying_which_settings_to_check(
    sim: VonageSimulator,
) -> None:
    rest = VonageRest(settings(sim, private_key=generate_private_key()))
    try:
        with pytest.raises(CarrierError) as error:
            await rest.dial({"to": []}, CALLEE)
        assert error.value.status == 401
        assert "VONAGE_PRIVATE_KEY" in str(error.value)
        assert not sim.calls
    finally:
        await rest.close()


async def test_server_errors_are_retried_for_hang_ups_not_for_dials(sim: VonageSimulator) -> None:
    rest = VonageRest(settings(sim))
    try:
        sim.fail_next = [500, 502]
        await rest.hang_up("no-such-call")  # two 5xx, then 404: over, success
        assert sim.requests == ["PUT /v1/calls/no-such-call"] * 3
        sim.fail_next = [500]
        with pytest.raises(CarrierError) as error:
            await rest.dial({"to": []}, CALLEE)  # may have rung someone: not repeated
        assert error.value.status == 500
        assert sim.requests.count("POST /v1/calls") == 1
        sim.fail_next = [500] * 4
        with pytest.raises(CarrierError, match="HTTP 500"):
            await rest.hang_up("no-such-call")
    finally:
        await rest.close()


async def test_an_unreachable_api_is_a_carrier_error_naming_vonage(sim: VonageSimulator) -> None:
    rest = VonageRest(settings(sim, api_url="http://127.0.0.1:9"), timeout_s=2)
    try:
        with pytest.raises(CarrierError, match="could not reach Vonage"):
            await rest.hang_up("x")
    finally:
        await rest.close()
