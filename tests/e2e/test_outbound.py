"""An agent asks the bridge to call a customer: the agent is dialled first, then the customer."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from bridge.calls.model import Direction, EndReason
from bridge.sim.softphone import Phone
from bridge.web.app import MAX_BODY_BYTES
from tests.e2e.carriers import CALLER_ID, CARRIERS, apology, control, speaks, worded
from tests.e2e.conftest import AGENT, CUSTOMER, StackFactory, mulaw, wait_received

SECOND = 16000
pytestmark = pytest.mark.parametrize("carrier_name", CARRIERS)


async def test_api_call_bridges_agent_then_customer_and_api_hang_up_ends_all(
    make_stack: StackFactory, customer_speech: bytes, agent_speech: bytes
) -> None:
    stack = await make_stack()
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    stack.carrier.add_phone(CUSTOMER, Phone(ring_s=0.2))
    body = {
        "to": CUSTOMER,
        "agent": AGENT,
        "source_language": "es",
        "target_language": "en",
        "carrier": stack.carrier_name,
    }
    async with asyncio.timeout(20), aiohttp.ClientSession(headers=stack.api_headers()) as http:
        async with http.post(stack.url + "/v1/calls", json=body) as response:
            assert response.status == 201, await response.text()
            created = await response.json()
        agent = await stack.carrier.next_call(to=AGENT)
        customer = await stack.carrier.next_call(to=CUSTOMER)
        call = await stack.call_for(lambda c: c.id == created["call_id"])
        await call.activated.wait()
        customer.speak(customer_speech[:SECOND])
        agent.speak(agent_speech[:SECOND])
        await wait_received(agent, mulaw(customer_speech[:SECOND]))
        await wait_received(customer, mulaw(agent_speech[:SECOND]))

        async with http.get(stack.url + f"/v1/calls/{call.id}") as response:
            live = await response.json()
        async with http.delete(stack.url + f"/v1/calls/{call.id}") as response:
            assert response.status == 200
            ended = await response.json()
        await agent.ended.wait()
        await customer.ended.wait()

    assert created["state"] == "dialing_agent"
    assert live["state"] == "active"
    assert live["direction"] == Direction.OUTBOUND.value
    assert ended["end_reason"] == EndReason.API_HANGUP.value
    assert agent.from_ == CALLER_ID
    assert customer.from_ == CALLER_ID
    assert control(agent) == ["hang_up"]
    assert control(customer) == ["hang_up"]
    (session,) = stack.kallglot.sessions.values()
    assert (session.source_language, session.target_language) == ("es", "en")
    assert session.ended_transitions == 1


async def test_unanswered_customer_means_an_apology_to_the_agent(make_stack: StackFactory) -> None:
    stack = await make_stack()
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    stack.carrier.add_phone(CUSTOMER, Phone(answer="busy", ring_s=0.2))
    async with asyncio.timeout(20), aiohttp.ClientSession(headers=stack.api_headers()) as http:
        async with http.post(
            stack.url + "/v1/calls",
            json={"to": CUSTOMER, "agent": AGENT, "carrier": stack.carrier_name},
        ) as response:
            assert response.status == 201
        agent = await stack.carrier.next_call(to=AGENT)
        call = await stack.call_for()
        await call.ended()
        await agent.ended.wait()

    assert call.end_reason is EndReason.CUSTOMER_UNAVAILABLE
    assert call.error == worded(stack.carrier_name, "busy")
    assert control(agent) == apology(stack.carrier_name)
    assert agent.said or not speaks(stack.carrier_name)
    (session,) = stack.kallglot.sessions.values()
    assert session.ended_transitions == 1


async def test_unanswered_agent_of_an_api_call_is_recorded_not_leaked(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    stack.carrier.add_phone(AGENT, Phone(answer="no-answer", ring_s=0.2))
    async with asyncio.timeout(20), aiohttp.ClientSession(headers=stack.api_headers()) as http:
        async with http.post(
            stack.url + "/v1/calls",
            json={"to": CUSTOMER, "agent": AGENT, "carrier": stack.carrier_name},
        ) as response:
            call_id = (await response.json())["call_id"]
        agent = await stack.carrier.next_call(to=AGENT)
        await agent.ended.wait()
        async with http.get(stack.url + f"/v1/calls/{call_id}") as response:
            record = await response.json()

    assert record["state"] == "ended"
    assert record["end_reason"] == EndReason.AGENT_UNAVAILABLE.value
    assert not stack.kallglot.sessions  # nobody answered: nothing was billed
    assert not stack.live_calls()


async def test_api_refuses_bad_requests_with_reasons(make_stack: StackFactory) -> None:
    stack = await make_stack()
    cases = [
        ({}, {"to": CUSTOMER, "agent": AGENT}, 401, "unauthorized"),
        (stack.api_headers(), {"to": "12345", "agent": AGENT}, 422, "invalid_to"),
        (stack.api_headers(), {"to": CUSTOMER, "agent": "bob"}, 422, "invalid_agent"),
        (stack.api_headers(), {"to": CUSTOMER, "agent": AGENT, "mode": "x"}, 422, "invalid_mode"),
        (stack.api_headers(), {"to": CUSTOMER, "agent": AGENT, "colour": 1}, 422, "unknown_field"),
        (stack.api_headers(), [1, 2], 400, "invalid_json"),
    ]
    async with aiohttp.ClientSession() as http:
        for headers, body, status, code in cases:
            async with http.post(stack.url + "/v1/calls", json=body, headers=headers) as response:
                assert response.status == status
                assert (await response.json())["error"]["code"] == code
        async with http.get(
            stack.url + "/v1/calls/call_nope", headers=stack.api_headers()
        ) as response:
            assert response.status == 404


async def test_api_bodies_that_break_naive_parsers_are_bad_requests(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    headers = {**stack.api_headers(), "Content-Type": "application/json; charset=no-such-charset"}
    async with aiohttp.ClientSession() as http:
        for body in (b"[" * 30_000 + b"]" * 30_000, b'{"to": "+15550100003"}', b"\xff\xfe"):
            async with http.post(stack.url + "/v1/calls", data=body, headers=headers) as response:
                assert response.status in (400, 413, 422), response.status
                assert (await response.json())["error"]["message"]


async def test_an_api_body_over_the_limit_is_a_413_in_the_api_s_own_json(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    body = json.dumps({"to": "+15550100003", "padding": "x" * (MAX_BODY_BYTES + 1)})
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.url + "/v1/calls", data=body, headers=stack.api_headers()) as response,
    ):
        assert response.status == 413
        error = (await response.json())["error"]
    assert error["code"] == "too_large"
    assert MAX_BODY_BYTES == 64 * 1024  # the limit the message names
    assert "64 KiB" in error["message"]
    assert not stack.carrier.calls  # nobody was dialled
