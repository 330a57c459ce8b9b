"""The REST client (the real twilio package underneath) against the simulator over loopback."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.rest import Client

from bridge.carriers.twilio import SIGNATURE_HEADER, TwilioSignatures
from bridge.carriers.twilio.config import TwilioSettings
from bridge.carriers.twilio.rest import CarrierError, TwilioRest, call_not_found
from bridge.carriers.twilio.twiml import Speech, say_hangup_twiml
from bridge.sim.carrier import CarrierSimulator, Phone

AGENT, BUSY, SILENT, CALLER_ID = "+15550100002", "+15550100003", "+15550100004", "+15550100001"
WAIT = "<Response><Say>Hello</Say><Pause length='5'/></Response>"


class StatusReceiver:
    """Collects status callbacks and whether each carried a valid signature."""

    def __init__(self, auth_token: str) -> None:
        self.signatures = TwilioSignatures(auth_token)
        self.received: list[tuple[bool, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_post("/status", self._status)
        self.app.router.add_post("/twiml", self._twiml)
        self.fetched: list[tuple[bool, dict[str, str]]] = []
        self.url = ""

    async def _twiml(self, request: web.Request) -> web.Response:
        form = await request.post()
        signature = request.headers.get(SIGNATURE_HEADER)
        valid = self.signatures.validate_webhook(str(request.url), form, signature)
        self.fetched.append((valid, {k: str(v) for k, v in form.items()}))
        return web.Response(text=say_hangup_twiml(Speech("From the URL")), content_type="text/xml")

    async def _status(self, request: web.Request) -> web.Response:
        form = await request.post()
        signature = request.headers.get(SIGNATURE_HEADER)
        valid = self.signatures.validate_webhook(str(request.url), form, signature)
        self.received.append((valid, {k: str(v) for k, v in form.items()}))
        return web.Response(status=204)


@pytest.fixture
async def sim(aiohttp_server: Any) -> AsyncIterator[CarrierSimulator]:
    simulator = CarrierSimulator()
    server: TestServer = await aiohttp_server(simulator.app)
    simulator.api_url = str(server.make_url("")).rstrip("/")
    simulator.add_phone(AGENT, Phone(ring_s=0.05))
    simulator.add_phone(BUSY, Phone(answer="busy", ring_s=0.05))
    simulator.add_phone(SILENT, Phone(answer="no-answer", ring_s=0.1))
    yield simulator
    await simulator.close()


@pytest.fixture
async def receiver(sim: CarrierSimulator, aiohttp_server: Any) -> StatusReceiver:
    status = StatusReceiver(sim.auth_token)
    server: TestServer = await aiohttp_server(status.app)
    status.url = str(server.make_url("/status"))
    return status


def settings_for(sim: CarrierSimulator, token: str | None = None) -> TwilioSettings:
    assert sim.api_url is not None
    return TwilioSettings(sim.account_sid, token or sim.auth_token, CALLER_ID, sim.api_url)


@pytest.fixture
async def rest(sim: CarrierSimulator) -> AsyncIterator[TwilioRest]:
    client = TwilioRest(settings_for(sim))
    yield client
    await client.close()


async def test_create_call_answer_and_status_callbacks(
    sim: CarrierSimulator, rest: TwilioRest, receiver: StatusReceiver
) -> None:
    async with asyncio.timeout(10):
        sid = await rest.create_call(AGENT, CALLER_ID, WAIT, receiver.url, timeout_s=5)
        call = sim.calls[sid]
        assert await sim.next_call(AGENT) is call
        await call.answered.wait()
        await call.wait_said("Hello")
        await rest.hangup(sid)
        await call.ended.wait()
    assert re.fullmatch(r"CA[0-9a-f]{32}", sid)
    assert (call.direction, call.from_, call.to) == ("outbound-api", CALLER_ID, AGENT)
    assert call.statuses == ["queued", "initiated", "ringing", "in-progress", "completed"]
    assert all(valid for valid, _ in receiver.received)
    sent = [params for _, params in receiver.received]
    assert [p["CallStatus"] for p in sent] == ["initiated", "ringing", "in-progress", "completed"]
    assert [p["SequenceNumber"] for p in sent] == ["0", "1", "2", "3"]
    assert int(sent[-1]["CallDuration"]) >= 1  # whole seconds, rounded up
    assert {(p["From"], p["To"], p["Direction"]) for p in sent} == {
        (CALLER_ID, AGENT, "outbound-api")
    }


async def test_hangup_of_an_ended_call_is_success(sim: CarrierSimulator, rest: TwilioRest) -> None:
    async with asyncio.timeout(10):
        sid = await rest.create_call(
            AGENT, CALLER_ID, say_hangup_twiml(Speech("Bye")), "http://127.0.0.1:9/status"
        )
        await sim.calls[sid].ended.wait()
        await rest.hangup(sid)  # 404 / 20404 from the simulator: already ended
        with pytest.raises(CarrierError) as caught:
            await rest.update_twiml(sid, say_hangup_twiml(Speech("Too late")))
    assert call_not_found(caught.value)
    assert caught.value.code == 20404
    assert [s.text for s in sim.calls[sid].said] == ["Bye"]


async def test_update_twiml_replaces_the_running_document(
    sim: CarrierSimulator, rest: TwilioRest
) -> None:
    async with asyncio.timeout(10):
        sid = await rest.create_call(AGENT, CALLER_ID, WAIT, "http://127.0.0.1:9/status")
        call = sim.calls[sid]
        await call.wait_said("Hello")
        await rest.update_twiml(sid, say_hangup_twiml(Speech("Sorry, goodbye", "en-US")))
        await call.ended.wait()
    assert [s.text for s in call.said] == ["Hello", "Sorry, goodbye"]
    assert call.status == "completed"


async def test_hangup_while_ringing_cancels(sim: CarrierSimulator, rest: TwilioRest) -> None:
    sim.add_phone("+15550100005", Phone(ring_s=5))
    async with asyncio.timeout(10):
        sid = await rest.create_call("+15550100005", CALLER_ID, WAIT, "http://127.0.0.1:9/s")
        call = sim.calls[sid]
        await call.wait_status("ringing")
        await rest.hangup(sid)
        await call.ended.wait()
    assert call.statuses[-1] == "canceled"
    assert not call.answered.is_set()


@pytest.mark.parametrize(
    ("to", "final"), [(BUSY, "busy"), (SILENT, "no-answer"), ("+15550109999", "failed")]
)
async def test_unanswered_outcomes(
    sim: CarrierSimulator, rest: TwilioRest, receiver: StatusReceiver, to: str, final: str
) -> None:
    async with asyncio.timeout(10):
        sid = await rest.create_call(to, CALLER_ID, WAIT, receiver.url, ("completed",))
        await sim.calls[sid].ended.wait()
    call = sim.calls[sid]
    assert call.status == final
    assert not call.answered.is_set()
    assert [(valid, p["CallStatus"], p["CallDuration"]) for valid, p in receiver.received] == [
        (True, final, "0")
    ]


async def test_ring_timeout_means_no_answer(sim: CarrierSimulator, rest: TwilioRest) -> None:
    sim.add_phone("+15550100006", Phone(ring_s=30))
    async with asyncio.timeout(10):
        sid = await rest.create_call("+15550100006", CALLER_ID, WAIT, "http://x/s", timeout_s=1)
        await sim.calls[sid].ended.wait()
    assert sim.calls[sid].status == "no-answer"


async def test_twilio_errors_become_carrier_errors(sim: CarrierSimulator, rest: TwilioRest) -> None:
    with pytest.raises(CarrierError, match="21211") as caught:
        await rest.create_call("12345", CALLER_ID, WAIT, "http://x/s")
    assert caught.value.status == 400
    with pytest.raises(CarrierError, match="12100"):
        await rest.create_call(AGENT, CALLER_ID, "<Response><Say>", "http://x/s")
    with pytest.raises(CarrierError) as missing:
        await rest.update_twiml("CA" + "0" * 32, WAIT)
    assert call_not_found(missing.value)
    await rest.hangup("CA" + "0" * 32)  # never existed: same answer as already ended


async def test_wrong_token_is_401(sim: CarrierSimulator) -> None:
    client = TwilioRest(settings_for(sim, token="wrong"))
    try:
        with pytest.raises(CarrierError) as caught:
            await client.create_call(AGENT, CALLER_ID, WAIT, "http://x/s")
    finally:
        await client.close()
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert "wrong" not in str(caught.value)


async def test_unreachable_api_is_a_carrier_error() -> None:
    settings = TwilioSettings("AC" + "0" * 32, "token", CALLER_ID, "http://127.0.0.1:9")
    client = TwilioRest(settings, timeout_s=2)
    try:
        with pytest.raises(CarrierError, match="could not reach Twilio"):
            await client.hangup("CA" + "0" * 32)
    finally:
        await client.close()


async def test_the_synchronous_twilio_client_works_unchanged(
    sim: CarrierSimulator, receiver: StatusReceiver
) -> None:
    """The stock `twilio.rest.Client` (requests underneath), only its API host moved."""
    client = Client(sim.account_sid, sim.auth_token)
    client.api.base_url = sim.api_url
    twiml_url = receiver.url.replace("/status", "/twiml")

    def create() -> Any:
        return client.calls.create(
            to=AGENT,
            from_=CALLER_ID,
            url=twiml_url,
            status_callback=receiver.url,
            status_callback_event=["initiated", "answered", "completed"],
            timeout=15,
        )

    async with asyncio.timeout(10):
        created = await asyncio.to_thread(create)
        await sim.calls[created.sid].ended.wait()
        fetched = await asyncio.to_thread(lambda: client.calls(created.sid).fetch())
    assert created.status == "queued"
    assert created.direction == "outbound-api"
    assert fetched.status == "completed"
    assert int(fetched.duration) >= 1
    assert fetched.end_time is not None
    assert [(valid, p["CallStatus"]) for valid, p in receiver.fetched] == [(True, "in-progress")]
    assert [(valid, p["CallStatus"]) for valid, p in receiver.received] == [
        (True, "initiated"),
        (True, "in-progress"),
        (True, "completed"),
    ]
    assert [s.text for s in sim.calls[created.sid].said] == ["From the URL"]
