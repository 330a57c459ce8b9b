"""A customer dials the call centre; the bridge dials the agent; each hears the other translated.

The Kallglot simulator "translates" by returning the same samples to the other party, so what a
party heard can be compared byte for byte with what the other said: nothing lost, nothing
reordered, nothing from the wrong leg.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bridge.calls.model import EndReason
from bridge.sim.softphone import Phone
from tests.e2e.carriers import CARRIERS, apology, control, final_status, speaks, worded
from tests.e2e.conftest import (
    AGENT,
    CENTRE,
    CUSTOMER,
    MENU,
    StackFactory,
    bridged_call,
    first_heard_at,
    heard_without_gaps,
    mulaw,
    wait_received,
)

SECOND = 16000  # bytes of 8 kHz PCM16
pytestmark = pytest.mark.parametrize("carrier_name", CARRIERS)


async def test_each_party_hears_the_other_in_order_with_nothing_lost(
    make_stack: StackFactory, customer_speech: bytes, agent_speech: bytes
) -> None:
    stack = await make_stack(translation_delay_s=0.1)
    said_by_customer = customer_speech[: 2 * SECOND]
    said_by_agent = agent_speech[: 2 * SECOND]
    async with asyncio.timeout(20):
        customer, agent, call = await bridged_call(stack)
        spoke_at = time.perf_counter()
        customer.speak(said_by_customer)
        agent.speak(said_by_agent)
        await wait_received(agent, mulaw(said_by_customer))
        await wait_received(customer, mulaw(said_by_agent))

        # Delay: 100 ms Kallglot batching + the simulator's 0.1 s + the 60 ms jitter buffer,
        # plus loopback and scheduling: anything near a second would mean audio piling up.
        for party, said in ((agent, said_by_customer), (customer, said_by_agent)):
            delay = first_heard_at(party, mulaw(said)[:160]) - spoke_at
            assert 0.2 <= delay < 0.6, delay
        # And it played without holes: the jitter buffer absorbed the chunks' arrival jitter.
        assert await heard_without_gaps(agent, mulaw(said_by_customer))
        assert await heard_without_gaps(customer, mulaw(said_by_agent))

        await customer.hang_up()
        await call.ended()
        await agent.ended.wait()

    assert call.end_reason is EndReason.CUSTOMER_HANGUP
    assert control(agent) == ["hang_up"]  # the bridge hung the agent up over REST
    assert final_status(agent) == "completed"
    (session,) = stack.kallglot.sessions.values()
    assert session.ended
    assert session.ended_transitions == 1
    assert mulaw(said_by_customer) in bytes(session.received_audio["customer"])
    assert mulaw(said_by_agent) in bytes(session.received_audio["agent"])
    assert not stack.live_calls()


async def test_agent_hanging_up_first_hangs_up_the_customer(
    make_stack: StackFactory, agent_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(20):
        customer, agent, call = await bridged_call(stack)
        agent.speak(agent_speech[: SECOND // 2])
        await wait_received(customer, mulaw(agent_speech[: SECOND // 2]))
        await agent.hang_up()
        await call.ended()
        await customer.ended.wait()

    assert call.end_reason is EndReason.AGENT_HANGUP
    assert len(customer.clears) == 1  # translation still queued for the customer was dropped
    assert control(customer) == ["hang_up"]
    assert control(agent) == []  # the agent hung up; nothing to hang up there
    (session,) = stack.kallglot.sessions.values()
    assert session.ended_transitions == 1


async def test_an_unanswered_agent_means_an_apology_and_a_clean_end(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    stack.carrier.add_phone(AGENT, Phone(answer="no-answer", ring_s=0.3))
    async with asyncio.timeout(20):
        customer = await stack.call_in(CUSTOMER, CENTRE)
        call = await stack.call_for()
        await call.ended()
        if speaks(stack.carrier_name):
            await customer.wait_said("Leider ist niemand erreichbar.")
        await customer.ended.wait()

    assert call.end_reason is EndReason.AGENT_UNAVAILABLE
    assert call.error == worded(stack.carrier_name, "no-answer")
    # The apology replaced the stream, then the call was hung up (where it can be said).
    assert control(customer) == apology(stack.carrier_name)
    assert final_status(customer) == "completed"
    (session,) = stack.kallglot.sessions.values()
    assert session.ended_transitions == 1
    assert not stack.live_calls()


async def test_the_keypad_menu_sets_the_callers_language(make_stack: StackFactory) -> None:
    stack = await make_stack()
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    async with asyncio.timeout(20):
        chose = await stack.call_in(CUSTOMER, MENU, digits="2")
        call = await stack.call_for()
        await call.activated.wait()
        await chose.hang_up()
        await call.ended()
        silent = await stack.call_in(CUSTOMER, MENU)  # presses nothing
        second = await stack.call_for(lambda c: c.id != call.id)
        await second.activated.wait()
        await silent.hang_up()
        await second.ended()

    languages = sorted(
        (s.source_language, s.target_language) for s in stack.kallglot.sessions.values()
    )
    if not speaks(stack.carrier_name):  # no menu is read: both take the route's language
        assert not chose.said
        assert languages == [("de", "en"), ("de", "en")]
        return
    assert chose.said[0].text == "Deutsch 1. Francais 2."
    assert chose.digits_sent == ["2"]
    assert languages == [("de", "en"), ("fr", "en")]  # no key: the route's default language
