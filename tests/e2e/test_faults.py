"""Faults from both simulators, end to end. Each case proves three things beside its own outcome:
no Kallglot session is left running (or billed twice), no task of the call is left behind, and
a healthy call next to it carries on untouched.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bridge.calls.model import EndReason
from tests.e2e.carriers import CARRIERS, apology, control, signed_status, speaks
from tests.e2e.conftest import (
    Neighbour,
    StackFactory,
    assert_cleaned_up,
    bridged_call,
    mulaw,
    wait_received,
)

SECOND = 16000
APOLOGY = "Leider ist niemand erreichbar."
pytestmark = pytest.mark.parametrize("carrier_name", CARRIERS)


async def test_a_dropped_kallglot_stream_reconnects_and_loses_no_caller_audio(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    said = mulaw(customer_speech[: 2 * SECOND])
    async with asyncio.timeout(30), Neighbour(stack, customer_speech[:SECOND]):
        customer, agent, call = await bridged_call(stack)
        assert call.session is not None
        session = stack.kallglot.sessions[call.session.id]
        customer.speak(customer_speech[: 2 * SECOND])
        await session.wait_for(lambda s: s.audio_bytes("customer") > 4000)  # mid-sentence
        await stack.kallglot.drop_stream(call.session.id)
        await session.wait_for(lambda s: said in bytes(s.received_audio["customer"]))
        # Translated audio resumes: the second half of the sentence, spoken after the reconnect.
        await wait_received(agent, said[len(said) // 2 :])
        await customer.hang_up()
        await assert_cleaned_up(stack, call)

    # Every word the caller said reached Kallglot, in order and once, across two connections.
    # (What the server itself had in flight when it dropped the socket is the server's to lose.)
    assert session.connections == 2
    assert said in bytes(session.received_audio["customer"])
    assert session.sequences == sorted(set(session.sequences))


async def test_a_kallglot_stream_that_cannot_come_back_ends_the_call_with_an_apology(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack(KALLGLOT_RECONNECT_TOTAL_S="0.5")
    async with asyncio.timeout(30), Neighbour(stack, customer_speech[:SECOND]):
        customer, agent, call = await bridged_call(stack)
        assert call.session is not None
        stack.kallglot.faults.refuse_reconnects = True
        await stack.kallglot.drop_stream(call.session.id)
        await assert_cleaned_up(stack, call)
        if speaks(stack.carrier_name):
            await customer.wait_said(APOLOGY)
            await agent.wait_said(APOLOGY)
        stack.kallglot.faults.refuse_reconnects = False

    assert call.end_reason is EndReason.KALLGLOT_FAILED
    assert control(customer) == control(agent) == apology(stack.carrier_name)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
async def test_a_burst_of_errors_at_session_create_costs_one_session_and_one_credit(
    make_stack: StackFactory, customer_speech: bytes, status: int
) -> None:
    stack = await make_stack(KALLGLOT_RETRY_TOTAL_S="10")
    async with asyncio.timeout(30), Neighbour(stack, customer_speech[:SECOND]):
        stack.kallglot.faults.fail_next_creates(status, 3, retry_after=0.05)
        customer, agent, call = await bridged_call(stack)
        customer.speak(customer_speech[:SECOND])
        await wait_received(agent, mulaw(customer_speech[:SECOND]))
        await customer.hang_up()
        await assert_cleaned_up(stack, call)

    key = f"{call.id}:create"
    assert stack.kallglot.create_requests_by_key[key] == 4  # three failures, then success
    assert stack.kallglot.credits_by_key[key] == 1  # billed once, however often retried
    assert (
        sum(1 for s in stack.kallglot.sessions.values() if s.metadata.get("call_id") == call.id)
        == 1
    )


async def test_a_stalled_kallglot_stream_is_noticed_and_replaced(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack(KALLGLOT_PING_INTERVAL_S="0.2", KALLGLOT_PONG_TIMEOUT_S="0.3")
    said = mulaw(customer_speech[:SECOND])
    async with asyncio.timeout(30), Neighbour(stack, customer_speech[:SECOND]):
        customer, agent, call = await bridged_call(stack)
        assert call.session is not None
        session = stack.kallglot.sessions[call.session.id]
        stack.kallglot.stall_stream(call.session.id)
        await session.wait_for(lambda s: s.connections == 2)
        customer.speak(customer_speech[:SECOND])
        await wait_received(agent, said)
        await customer.hang_up()
        await assert_cleaned_up(stack, call)


async def test_a_stream_token_that_expired_before_connecting_is_refreshed(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(30):
        started = asyncio.create_task(bridged_call(stack))
        session = await stack.kallglot.wait_for_session()
        stack.kallglot.advance_clock(301)  # the token from the create is now five minutes old
        customer, agent, call = await started
        customer.speak(customer_speech[:SECOND])
        await wait_received(agent, mulaw(customer_speech[:SECOND]))
        await customer.hang_up()
        await assert_cleaned_up(stack, call)

    assert session.token_refusals == 1
    assert session.connections == 1


async def test_a_carrier_socket_dropped_without_stop_ends_the_call(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(30), Neighbour(stack, customer_speech[:SECOND]):
        customer, agent, call = await bridged_call(stack)
        customer.drop_stream()  # the TCP connection goes away: no stop, no close frame
        await assert_cleaned_up(stack, call)
        await agent.ended.wait()

    assert call.end_reason is EndReason.CUSTOMER_HANGUP
    assert control(agent) == ["hang_up"]


async def test_a_status_callback_before_the_stream_closes_ends_the_call(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(30), Neighbour(stack, customer_speech[:SECOND]):
        customer, agent, call = await bridged_call(stack)
        url = stack.env["BRIDGE_PUBLIC_URL"] + f"/{stack.carrier_name}/status/{call.id}/agent"
        body, headers = signed_status(stack.sims, stack.carrier_name, url, agent.sid, "completed")
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=body, headers=headers) as response:
                assert response.status == 204
            await assert_cleaned_up(stack, call)
            # ... and the same callback again, after everything closed, changes nothing.
            async with http.post(url, data=body, headers=headers) as response:
                assert response.status == 204
        await customer.ended.wait()

    assert call.end_reason is EndReason.AGENT_HANGUP
    assert control(customer) == ["hang_up"]
    assert agent.closed_by == "bridge"


async def test_kallglot_ending_the_session_ends_the_call(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(30), Neighbour(stack, customer_speech[:SECOND]):
        customer, agent, call = await bridged_call(stack)
        assert call.session is not None
        url = stack.env["KALLGLOT_API_URL"] + f"/sessions/{call.session.id}/end"
        headers = {"Authorization": f"Bearer {stack.kallglot.api_key}"}
        async with aiohttp.ClientSession() as http, http.post(url, headers=headers) as response:
            assert response.status == 200  # as if an operator ended it in Kallglot's portal
        await assert_cleaned_up(stack, call)
        await customer.ended.wait()
        await agent.ended.wait()

    assert call.end_reason is EndReason.KALLGLOT_ENDED
    assert control(customer) == control(agent) == ["hang_up"]
