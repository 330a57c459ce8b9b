"""One call across two carriers: a customer calling in on Telnyx, an agent dialled on Twilio."""

from __future__ import annotations

import asyncio

import pytest

from bridge.calls.model import EndReason, Role
from bridge.sim.softphone import Phone
from bridge.web.keys import STORE
from tests.e2e.carriers import control
from tests.e2e.conftest import (
    AGENT,
    CUSTOMER,
    MIXED,
    StackFactory,
    assert_cleaned_up,
    mulaw,
    wait_received,
)

SECOND = 16_000


@pytest.fixture
def carrier_name() -> str:
    return "telnyx"  # where the customer calls in


async def test_a_telnyx_customer_is_bridged_to_a_twilio_agent(
    make_stack: StackFactory, customer_speech: bytes, agent_speech: bytes
) -> None:
    stack = await make_stack()
    stack.sims.twilio.add_phone(AGENT, Phone(ring_s=0.1))
    said_by_customer, said_by_agent = customer_speech[:SECOND], agent_speech[:SECOND]
    async with asyncio.timeout(30):
        customer = await stack.call_in(CUSTOMER, MIXED)
        agent = await stack.sims.twilio.next_call(to=AGENT)
        call = await stack.call_for()
        await call.activated.wait()
        customer.speak(said_by_customer)
        agent.speak(said_by_agent)
        await wait_received(agent, mulaw(said_by_customer))
        await wait_received(customer, mulaw(said_by_agent))
        await customer.hang_up()
        await assert_cleaned_up(stack, call)
        await agent.ended.wait()
        await stack.app[STORE].flush()
        record = await stack.app[STORE].get(call.id)

    assert call.end_reason is EndReason.CUSTOMER_HANGUP
    assert control(agent) == ["hang_up"]  # over Twilio's REST API
    assert not stack.sims.telnyx.calls.keys() - {customer.sid}  # nobody dialled on Telnyx
    assert record is not None
    carriers = {leg.role: leg.carrier for leg in record.legs}
    assert carriers == {Role.CUSTOMER.value: "telnyx", Role.AGENT.value: "twilio"}
