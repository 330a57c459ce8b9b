"""Streams that carry genuine credentials and still must not get in, or must be cut off.

Each hostile socket is signed as Twilio would sign it (a carrier bug or a leaked auth token
behind it) and carries a genuine ticket. What it tries: replaying a ticket after its call ended
(on the same instance and on another), taking over a live leg with a second stream, naming
another caller's carrier call, and flooding audio faster than real time or in oversized
payloads. Each is refused or cut off alone; the calls beside it carry on untouched.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from structlog.testing import capture_logs

from bridge.calls.call import Call
from bridge.calls.model import EndReason
from bridge.carriers.twilio import TwilioCarrierSide
from bridge.carriers.twilio.signature import SIGNATURE_HEADER, TwilioSignatures
from bridge.sim.softphone import Phone
from bridge.sim.twiml_parse import Connect, parse_twiml
from bridge.web.keys import STORE
from tests.e2e.conftest import (
    AGENT,
    CENTRE,
    CUSTOMER,
    SOLO,
    Neighbour,
    Stack,
    StackFactory,
    assert_cleaned_up,
    bridged_call,
    carrier_socket,
    closed_with,
    metric,
    mulaw,
    wait_received,
)
from tests.store.stack import RecordsStacks

SECOND = 16_000  # bytes of 8 kHz PCM16
FRAME = b"\xff" * 160  # 20 ms of mu-law silence
POLICY_VIOLATION = 1008


async def answer(stack: Stack, to: str, call_sid: str) -> tuple[str, dict[str, str]]:
    """The voice webhook, called (and signed) as Twilio calls it: the call id and the stream
    parameters (the ticket) of its answer."""
    form = {
        "CallSid": call_sid,
        "AccountSid": stack.carrier.account_sid,
        "From": CUSTOMER,
        "To": to,
    }
    signature = TwilioSignatures(stack.carrier.auth_token).sign(
        stack.env["BRIDGE_PUBLIC_URL"] + "/twilio/voice", form
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.voice_url, data=form, headers={SIGNATURE_HEADER: signature}) as response,
    ):
        verbs = parse_twiml(await response.text())
    (stream,) = [verb.stream for verb in verbs if isinstance(verb, Connect)]
    return stream.url.rsplit("/", 1)[1], dict(stream.parameters)


@asynccontextmanager
async def own_call(
    stack: Stack, call_sid: str
) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, TwilioCarrierSide, Call]]:
    """A one-leg call of the test's own, answered and streamed as Twilio would, once live."""
    call_id, params = await answer(stack, SOLO, call_sid)
    async with carrier_socket(stack, call_id, params, call_sid) as (ws, side):
        call = await stack.call_for(lambda c: c.id == call_id)
        await call.activated.wait()
        yield ws, side, call


def refusals(stack: Stack, reason: str) -> float:
    return metric(stack, "bridge_media_streams_refused_total", reason=reason)


async def test_a_second_stream_for_a_live_leg_is_refused_and_the_genuine_one_keeps_it(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    said = mulaw(customer_speech[:SECOND])
    with capture_logs() as logs:
        async with asyncio.timeout(20):
            customer, agent, call = await bridged_call(stack)
            params = customer.stream_parameters
            async with carrier_socket(stack, call.id, params, customer.sid) as (ws, _):
                code, reason = await closed_with(ws)
            customer.speak(customer_speech[:SECOND])  # the genuine stream still carries the call
            await wait_received(agent, said)
            await customer.hang_up()
            await assert_cleaned_up(stack, call)

    assert (code, reason) == (
        POLICY_VIOLATION,
        "the customer leg's ticket was attached to the live call",
    )
    assert call.end_reason is EndReason.CUSTOMER_HANGUP
    refused = [e for e in logs if e["event"] == "media_stream_refused"]
    assert [(e["call_id"], e["refusal"]) for e in refused] == [(call.id, "ticket_used")]
    assert refusals(stack, "ticket_used") == 1


async def test_a_ticket_replayed_after_its_call_ended_changes_nothing_on_any_instance(
    stacks: RecordsStacks, customer_speech: bytes
) -> None:
    first = await stacks.start()
    second = await stacks.start(reuse=first, BRIDGE_INSTANCE_ID="bridge-other")
    async with asyncio.timeout(20):
        customer, agent, call = await bridged_call(first)
        customer.speak(customer_speech[:SECOND])
        await wait_received(agent, mulaw(customer_speech[:SECOND]))
        await customer.hang_up()
        await assert_cleaned_up(first, call)
        await first.app[STORE].flush()
        before = await first.app[STORE].get(call.id)
        replays = []
        for stack in (first, second):  # the instance that had the call, and another
            async with carrier_socket(stack, call.id, customer.stream_parameters, customer.sid) as (
                ws,
                _,
            ):
                replays.append(await closed_with(ws))
        await first.app[STORE].flush()
        await second.app[STORE].flush()
        after = await first.app[STORE].get(call.id)

    assert replays == [
        (POLICY_VIOLATION, "the customer leg's ticket was used by a call that has ended"),
        (
            POLICY_VIOLATION,
            "the customer leg's ticket was used before, or its call has ended (on another "
            "instance, or before a restart)",
        ),
    ]
    assert after == before  # end reason, carrier ids, audio seconds: all as they were
    assert before is not None
    assert before.end_reason == EndReason.CUSTOMER_HANGUP.value
    assert [c.to for c in first.carrier.calls.values()].count(AGENT) == 1  # not dialled again
    assert not first.live_calls()
    assert not second.live_calls()


async def test_a_stream_naming_another_callers_carrier_call_is_refused_and_spends_nothing(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(20), Neighbour(stack, customer_speech[:SECOND]) as victim:
        mine = "CA" + "7" * 32
        call_id, params = await answer(stack, SOLO, mine)
        # The victim's CallSid in `start`, then a bad frame: this once hung the victim up.
        async with carrier_socket(stack, call_id, params, victim.customer.sid) as (ws, _):
            await ws.send_str("{not json")
            code, reason = await closed_with(ws)
        assert call_id not in {c.id for c in stack.live_calls()}
        # The ticket is not spent: the stream for the carrier call it names still gets in.
        async with carrier_socket(stack, call_id, params, mine) as (ws, side):
            own = await stack.call_for(lambda c: c.id == call_id)
            await own.activated.wait()
            await ws.send_str(side.stop())
            await own.ended()

    assert code == POLICY_VIOLATION
    assert reason == f"the stream is for carrier call {victim.customer.sid}, its leg is {mine}"
    assert victim.customer.api_updates == []  # the victim was never touched
    assert refusals(stack, "carrier_call_mismatch") == 1


async def test_audio_ten_times_faster_than_real_time_ends_that_leg_alone(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(20), Neighbour(stack, customer_speech[:SECOND]):
        async with own_call(stack, "CA" + "8" * 32) as (ws, side, call):
            loop = asyncio.get_running_loop()

            async def flood() -> None:  # 20 s of audio in 2 s, if nothing stops it
                for _ in range(1000):
                    await ws.send_str(side.media(FRAME))
                    await asyncio.sleep(0.002)

            flooding, started = asyncio.create_task(flood()), loop.time()
            code, reason = await closed_with(ws)
            cut_after = loop.time() - started
            flooding.cancel()
            await asyncio.gather(flooding, return_exceptions=True)
        await call.ended()

    assert code == POLICY_VIOLATION
    assert reason.startswith("media faster than real time")
    assert cut_after < 1.0
    assert call.end_reason is EndReason.PROTOCOL_ERROR
    assert call.session is not None
    forwarded = stack.kallglot.sessions[call.session.id].audio_bytes("customer")
    assert forwarded <= 2.5 * 8000  # the 2 s allowance and the 0.2 s it took, not 20 s


async def test_an_oversized_media_payload_ends_that_leg_at_once(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(20), Neighbour(stack, customer_speech[:SECOND]):
        async with own_call(stack, "CA" + "9" * 32) as (ws, side, call):
            big = json.loads(side.media(FRAME))
            big["media"]["payload"] = base64.b64encode(b"\xff" * 12_000).decode()
            await ws.send_str(json.dumps(big))
            code, reason = await closed_with(ws)
        await call.ended()

    assert code == POLICY_VIOLATION
    assert reason == "media payload of 12000 bytes (1500 ms) is over the 200 ms maximum"
    assert call.end_reason is EndReason.PROTOCOL_ERROR
    assert call.session is not None
    assert stack.kallglot.sessions[call.session.id].audio_bytes("customer") == 0


async def test_the_dialled_legs_stream_must_be_for_the_call_the_bridge_dialled(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(20):
        customer, agent, call = await bridged_call(stack)
        # The agent leg's ticket, presented by a stream for some other carrier call.
        async with carrier_socket(stack, call.id, agent.stream_parameters, "CA" + "5" * 32) as (
            ws,
            _,
        ):
            code, reason = await closed_with(ws)
        assert call.legs[call.plan.roles[1]].carrier_call_id == agent.sid
        await customer.hang_up()
        await assert_cleaned_up(stack, call)

    assert code == POLICY_VIOLATION
    assert reason.startswith("the stream is for carrier call CA5555")
    assert reason.endswith(f"its leg is {agent.sid}")


async def test_a_party_answering_after_the_call_ended_rebuilds_nothing_on_any_instance(
    stacks: RecordsStacks,
) -> None:
    """A dial the carrier could not cancel in time (Exotel cannot at all) is answered after
    the caller hung up: its stream brings the agent leg's ticket, never used. It must not
    start the call again (a Kallglot session, a second record) here or on another instance."""
    first = await stacks.start()
    second = await stacks.start(reuse=first, BRIDGE_INSTANCE_ID="bridge-other")
    first.carrier.add_phone(AGENT, Phone(ring_s=30))
    async with asyncio.timeout(20):
        customer = await first.call_in(CUSTOMER, CENTRE)
        agent = await first.carrier.next_call(to=AGENT)
        call = await first.call_for()
        await customer.hang_up()
        await call.ended()
        await first.app[STORE].flush()
        before = await first.app[STORE].get(call.id)
        verbs = agent.setup.document.verbs or ()
        (stream,) = [verb.stream for verb in verbs if isinstance(verb, Connect)]
        late = []
        for stack in (first, second):
            async with carrier_socket(stack, call.id, dict(stream.parameters), agent.sid) as (
                ws,
                _,
            ):
                late.append(await closed_with(ws))
        await first.app[STORE].flush()
        await second.app[STORE].flush()
        after = await first.app[STORE].get(call.id)

    assert late == [
        (
            POLICY_VIOLATION,
            "the call ended before its agent leg's stream came (a party who answered after "
            "the others hung up)",
        ),
        (
            POLICY_VIOLATION,
            "the agent leg's ticket was used before, or its call has ended (on another instance, "
            "or before a restart)",
        ),
    ]
    assert after == before
    assert len(first.kallglot.sessions) <= 1  # the call's own, if it got that far; no other
    assert not first.live_calls()
    assert not second.live_calls()
