"""A customer dials the call centre; the bridge dials the agent; each hears the other translated.

The Kallglot simulator "translates" by returning the same samples to the other party, so what a
party heard can be compared byte for byte with what the other said: nothing lost, nothing
reordered, nothing from the wrong leg.
"""

from __future__ import annotations

import asyncio
import time

from bridge.calls.model import EndReason
from bridge.sim.softphone import Phone
from tests.e2e.conftest import AGENT, CENTRE, CUSTOMER, Stack, StackFactory, mulaw

SECOND = 16000  # bytes of 8 kHz PCM16


def first_heard_at(party, audio: bytes) -> float:  # type: ignore[no-untyped-def]
    """perf_counter() when the first 20 ms of `audio` reached `party` from the bridge."""
    head = audio[:160]
    return next(m.at for m in party.media_received if m.payload == head)


async def bridged_call(stack: Stack, agent_phone: Phone | None = None):  # type: ignore[no-untyped-def]
    stack.carrier.add_phone(AGENT, agent_phone or Phone(ring_s=0.1))
    customer = await stack.carrier.place_call(CUSTOMER, CENTRE, stack.voice_url)
    agent = await stack.carrier.next_call(to=AGENT)
    call = await stack.call_for()
    await call.activated.wait()
    return customer, agent, call


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
        await agent.wait_until(lambda: mulaw(said_by_customer) in bytes(agent.heard))
        await customer.wait_until(lambda: mulaw(said_by_agent) in bytes(customer.heard))

        # Delay: the simulator's 0.1 s plus the 100 ms Kallglot batching, and little else.
        for party, said in ((agent, said_by_customer), (customer, said_by_agent)):
            delay = first_heard_at(party, mulaw(said)) - spoke_at
            assert 0.1 <= delay < 0.6, delay

        await customer.hang_up()
        await call.ended()
        await agent.ended.wait()

    assert call.end_reason is EndReason.CUSTOMER_HANGUP
    assert agent.api_updates == ["Status=completed"]  # the bridge hung the agent up over REST
    assert agent.status == "completed"
    (session,) = stack.kallglot.sessions.values()
    assert session.ended
    assert session.ended_transitions == 1
    assert mulaw(said_by_customer) in bytes(session.received_audio["customer"])
    assert mulaw(said_by_agent) in bytes(session.received_audio["agent"])
    assert not stack.live_calls()
