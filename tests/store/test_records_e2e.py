"""A real call, driven from the simulated phones, leaves a record of every stage of its life."""

from __future__ import annotations

import asyncio

from bridge.sim.softphone import Phone
from tests.e2e.conftest import AGENT, CENTRE, CUSTOMER, mulaw
from tests.store.stack import RecordsStacks, records

SECOND = 16000  # bytes of 8 kHz PCM16


async def test_a_translated_call_is_recorded_when_created_active_and_ended(
    stacks: RecordsStacks, customer_speech: bytes, agent_speech: bytes
) -> None:
    stack = await stacks.start(webhooks_to_bridge=True)
    store = records(stack)
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.2))
    said_by_customer, said_by_agent = customer_speech[:SECOND], agent_speech[:SECOND]
    async with asyncio.timeout(20):
        customer = await stack.carrier.place_call(CUSTOMER, CENTRE, stack.voice_url)
        call = await stack.call_for()
        await store.flush()
        created = await store.get(call.id)
        assert created is not None
        assert created.state in ("ringing", "bridging", "active")  # written before any audio
        assert created.route == CENTRE

        await call.activated.wait()
        agent = await stack.carrier.next_call(to=AGENT)
        await store.flush()
        active = await store.get(call.id)
        assert active is not None
        assert active.state == "active"
        assert call.session is not None
        assert active.session_id == call.session.id
        assert active.answered_at is not None

        customer.speak(said_by_customer)
        agent.speak(said_by_agent)
        await agent.wait_until(lambda: mulaw(said_by_customer) in bytes(agent.heard))
        await customer.wait_until(lambda: mulaw(said_by_agent) in bytes(customer.heard))
        await customer.hang_up()
        await call.ended()
        await stack.kallglot.webhooks.wait_settled(3)
    await store.flush()

    record = await store.get(call.id)
    assert record is not None
    assert (record.state, record.end_reason, record.error) == ("ended", "customer_hangup", None)
    assert (record.direction, record.mode) == ("inbound", "bidirectional_translation")
    assert (record.customer_language, record.agent_language) == ("de", "en")
    assert record.instance == "bridge-test"
    assert record.created_at <= record.answered_at <= record.ended_at  # type: ignore[operator]
    legs = {leg.role: leg for leg in record.legs}
    assert legs["customer"].carrier_call_id == customer.sid
    assert legs["agent"].carrier_call_id == agent.sid
    assert legs["customer"].stream_id == customer.stream_sids[-1]
    for leg in legs.values():
        assert leg.carrier == "twilio"
        assert leg.audio_in_s >= 1.0  # each party spoke a second, plus the silence around it
        assert leg.audio_out_s >= 1.0  # and heard the other's second
        assert leg.frames_lost == 0
    events = await store.store.events(record.session_id)
    assert sorted(e.type for e in events) == [
        "session.created",
        "session.ended",
        "transcript.ready",
    ]


async def test_the_session_is_recorded_while_the_agent_still_rings(
    stacks: RecordsStacks,
) -> None:
    """The instance that finds this one dead ends the sessions its records name (see
    bridge/calls/session_ledger.py): a session opened for a call whose agent rings for half a minute
    must be named before the call goes live."""
    stack = await stacks.start()
    store = records(stack)
    stack.carrier.add_phone(AGENT, Phone(ring_s=30))
    async with asyncio.timeout(20):
        customer = await stack.carrier.place_call(CUSTOMER, CENTRE, stack.voice_url)
        call = await stack.call_for()
        await call.session_opened.wait()  # the records hook waited first, so it ran first
        await store.flush()
        record = await store.get(call.id)
        assert call.session is not None
        assert record is not None
        assert (record.state, record.session_id) == ("bridging", call.session.id)
        await customer.hang_up()
        await call.ended()
