"""Exotel through the whole stack: only requests carrying the webhook credentials get in, only
streams with a ticket for their call attach, and what Exotel cannot render is refused in a way
its flow handles (the failure branch), each with a message that says what to check."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest

from bridge.carriers.exotel.auth import basic_header, seal
from bridge.carriers.exotel.protocol import ExotelCarrierSide
from bridge.carriers.interface import StreamTarget
from bridge.sim.exotel import ExotelSimulator
from bridge.sim.exotel_call import VOICEBOT_FAILED
from bridge.sim.softphone import Phone
from tests.e2e.conftest import AGENT, CENTRE, CUSTOMER, Stack, StackFactory, metric
from tests.e2e.test_security import ticket

POLICY_VIOLATION = 1008
VOICE = {"CallSid": "a" * 32, "CallFrom": CUSTOMER, "CallTo": CENTRE, "Direction": "inbound"}


@pytest.fixture
def carrier_name() -> str:
    return "exotel"


def credentials(stack: Stack, password: str | None = None) -> dict[str, str]:
    sim: ExotelSimulator = stack.carrier
    return {"Authorization": basic_header(sim.webhook_user, password or sim.webhook_password)}


async def test_webhooks_without_the_credentials_are_refused_with_what_to_check(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    status_url = stack.url + "/exotel/status/call_x/agent"
    forgeries = [{}, credentials(stack, "not-the-password-at-all"), {"Authorization": "Bearer x"}]
    async with aiohttp.ClientSession() as http:
        for headers in forgeries:
            async with http.get(stack.voice_url, params=VOICE, headers=headers) as response:
                assert response.status == 403
                text = await response.text()
            assert "EXOTEL_WEBHOOK_USER" in text
            assert "EXOTEL_WEBHOOK_PASSWORD" in text
            form = {"CallSid": "a" * 32, "Status": "completed"}
            async with http.post(status_url, data=form, headers=headers) as response:
                assert response.status == 403
        async with http.get(stack.voice_url, params=VOICE, headers=credentials(stack)) as ok:
            assert ok.status == 200
            answer = await ok.json()
    assert metric(stack, "bridge_webhook_verification_failures_total", source="exotel") == 6
    stream = urlsplit(answer["url"])
    assert (stream.scheme, stream.username) == ("ws", stack.carrier.webhook_user)
    assert stream.path.startswith("/exotel/media/call_")
    assert {"sample-rate", "t1"} <= dict(parse_qsl(stream.query)).keys()


async def test_a_custom_field_not_sealed_by_us_is_just_a_new_call(make_stack: StackFactory) -> None:
    """Nobody can make /exotel/voice hand out a stream URL of their choosing."""
    stack = await make_stack()
    forged = seal(StreamTarget("wss://evil.example/x", {"ticket": "t"}), "another password")
    params = VOICE | {"CustomField": forged}
    async with (
        aiohttp.ClientSession() as http,
        http.get(stack.voice_url, params=params, headers=credentials(stack)) as response,
    ):
        answer = await response.json()
    assert "evil.example" not in answer["url"]
    assert urlsplit(answer["url"]).path.startswith("/exotel/media/call_")


async def test_a_media_upgrade_without_the_credentials_is_refused(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    url = stack.url.replace("http", "ws") + "/exotel/media/call_x"
    async with aiohttp.ClientSession() as http:
        for headers in ({}, credentials(stack, "wrong-password-0123456")):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url, headers=headers)
            assert refused.value.status == 403
        async with http.get(url, headers={"Upgrade": "websocket"}) as response:
            assert "EXOTEL_WEBHOOK_PASSWORD" in await response.text()
    assert (
        metric(stack, "bridge_webhook_verification_failures_total", source="exotel_media_upgrade")
        == 3
    )


@pytest.mark.parametrize("why", ["none", "foreign", "expired"])
async def test_a_stream_without_a_valid_ticket_for_its_call_is_closed(
    make_stack: StackFactory, why: str
) -> None:
    stack = await make_stack()
    tickets = {"none": {}, "foreign": {"ticket": ticket("call_other")}}
    parameters = tickets.get(why, {"ticket": ticket("call_x", expires_in=-5)})
    url = stack.url.replace("http", "ws") + "/exotel/media/call_x"
    side = ExotelCarrierSide("stream_1", "b" * 32, stack.carrier.account_sid)
    async with (
        asyncio.timeout(10),
        aiohttp.ClientSession() as http,
        http.ws_connect(url, headers=credentials(stack)) as ws,
    ):
        await ws.send_str(side.connected())
        await ws.send_str(side.start(parameters))
        async for _ in ws:
            pass
    assert ws.close_code == POLICY_VIOLATION
    assert not stack.live_calls()


async def test_what_exotel_cannot_say_is_refused_so_the_flow_runs_its_failure_branch(
    make_stack: StackFactory,
) -> None:
    """A call to a number with no route would be told "not in service": Exotel cannot say it,
    so the applet's URL answers 422 and the operator's failure branch takes the call."""
    stack = await make_stack()
    sim: ExotelSimulator = stack.carrier
    sim.failure_greeting = "This number is not in service."
    async with asyncio.timeout(10):
        call = await stack.call_in(CUSTOMER, "+15550100999")
        await call.ended.wait()
    ((_, http_status),) = call.voicebot_requests
    assert http_status == 422
    assert call.warnings[0].code == VOICEBOT_FAILED
    assert [said.text for said in call.said] == ["This number is not in service."]
    assert not stack.live_calls()
    assert json.dumps(call.statuses) == '["in-progress", "completed"]'


async def test_a_dial_answered_after_its_call_ended_is_turned_away(
    make_stack: StackFactory,
) -> None:
    """Exotel cannot cancel a ringing dial: when the agent answers after the caller hung up,
    their flow is refused a stream (and hangs up), and no call is rebuilt from their ticket."""
    stack = await make_stack()
    stack.carrier.add_phone(AGENT, Phone(ring_s=1.0))
    async with asyncio.timeout(20):
        customer = await stack.call_in(CUSTOMER, CENTRE)
        agent = await stack.carrier.next_call(to=AGENT)
        call = await stack.call_for()
        await customer.stream_started.wait()
        await customer.hang_up()
        await call.ended()
        await agent.ended.wait()
    assert [status for _, status in agent.voicebot_requests] == [422]
    assert not agent.stream_sids
    assert agent.statuses == ["ringing", "in-progress", "completed"]  # the Hangup applet
    assert len(stack.kallglot.sessions) == 1  # the caller's only
    assert not stack.live_calls()
