"""At BRIDGE_MAX_CALLS a caller is told so: at the webhook, or, where the stream finds no room
after all, by the busy message at stream start, with a record. Never a silent hang-up."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer

from bridge.calls.control import stream_target
from bridge.calls.model import Direction, EndReason, Mode, Role
from bridge.calls.outbound import new_call_id
from bridge.calls.plan import CallPlan
from bridge.calls.settings import DEFAULT_BUSY_MESSAGE
from bridge.carriers.twilio.twiml import connect_stream_twiml
from bridge.store.query import CallQuery
from bridge.store.records import CallRecord
from bridge.web.keys import CONFIG, REGISTRY, STORE
from tests.e2e.conftest import (
    CENTRE,
    SOLO,
    Stack,
    StackFactory,
    bridged_call,
    carrier_socket,
)
from tests.e2e.test_hostile_streams import answer, refusals

OTHER_CALLER = "+15550100009"


async def test_a_caller_beyond_the_limit_hears_busy_at_the_webhook(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(BRIDGE_MAX_CALLS="1")
    async with asyncio.timeout(20):
        customer, _, call = await bridged_call(stack)
        turned_away = await stack.carrier.place_call(OTHER_CALLER, CENTRE, stack.voice_url)
        await turned_away.wait_said(DEFAULT_BUSY_MESSAGE)
        await turned_away.ended.wait()
        assert [c.id for c in stack.live_calls()] == [call.id]
        await customer.hang_up()
        await call.ended()

    assert turned_away.stream_parameters == {}  # it never got a stream
    assert call.end_reason is EndReason.CUSTOMER_HANGUP


async def test_a_caller_answered_before_the_limit_filled_gets_the_call(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(BRIDGE_MAX_CALLS="1")
    async with asyncio.timeout(20):
        first_sid = "CA" + "1" * 32
        call_id, params = await answer(stack, SOLO, first_sid)  # answered: its slot is held
        later = await stack.carrier.place_call(OTHER_CALLER, SOLO, stack.voice_url)
        await later.wait_said(DEFAULT_BUSY_MESSAGE)  # the limit is full with the first's slot
        async with carrier_socket(stack, call_id, params, first_sid) as (ws, side):
            call = await stack.call_for(lambda c: c.id == call_id)
            await call.activated.wait()  # the first caller's stream arrives: it gets the call
            await ws.send_str(side.stop())
            await call.ended()

    assert call.end_reason is EndReason.CUSTOMER_HANGUP


async def test_a_slot_no_stream_takes_lapses_after_the_start_timeout(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(BRIDGE_MAX_CALLS="1", BRIDGE_START_TIMEOUT_S="0.5")
    registry = stack.app[REGISTRY]
    async with asyncio.timeout(20):
        await answer(stack, SOLO, "CA" + "2" * 32)  # the caller hangs up before the stream
        assert not registry.accepting()
        while not registry.accepting():  # noqa: ASYNC110 - a lapse is time passing, no event
            await asyncio.sleep(0.05)
        caller = await stack.carrier.place_call(OTHER_CALLER, SOLO, stack.voice_url)
        call = await stack.call_for()
        await call.activated.wait()
        await caller.hang_up()
        await call.ended()

    assert registry.reserved == 0


async def test_a_stream_that_finds_the_bridge_full_hears_busy_and_is_recorded(
    make_stack: StackFactory, aiohttp_server: object
) -> None:
    stack = await make_stack(BRIDGE_MAX_CALLS="1")
    other = await _another_instance(stack, aiohttp_server)
    async with asyncio.timeout(20):
        customer, _, call = await bridged_call(stack)
        # A caller answered by another instance, whose stream the balancer sends here.
        late = await stack.carrier.place_call(OTHER_CALLER, SOLO, str(other.make_url("/voice")))
        await late.wait_said(DEFAULT_BUSY_MESSAGE)
        await late.ended.wait()
        assert [c.id for c in stack.live_calls()] == [call.id]
        await stack.app[STORE].flush()
        (refused,) = [r for r in await _records(stack) if r.call_id != call.id]
        await customer.hang_up()
        await call.ended()

    assert late.api_updates == ["Twiml"]  # the busy TwiML replaced the stream, then hung up
    assert (refused.state, refused.end_reason) == ("ended", EndReason.BRIDGE_FULL.value)
    assert refused.legs[0].carrier_call_id == late.sid
    assert refusals(stack, "capacity") == 1


async def _another_instance(stack: Stack, aiohttp_server: object) -> TestServer:
    """A voice webhook answering as another bridge instance would (same BRIDGE_SECRET and
    public URL), so the stream comes to `stack` without a slot held there."""
    settings = stack.app[CONFIG].bridge

    async def voice(request: web.Request) -> web.Response:
        form = await request.post()
        plan = CallPlan(
            call_id=new_call_id(),
            direction=Direction.INBOUND,
            mode=Mode.BIDIRECTIONAL,
            customer_language="de",
            agent_language="en",
            agent=None,
            customer=None,
            customer_carrier="twilio",
            agent_carrier="twilio",
            route=settings.routes.lookup(SOLO),
        )
        target = stream_target(settings, plan, Role.CUSTOMER, 60, str(form["CallSid"]))
        twiml = connect_stream_twiml(target.url, target.parameters)
        return web.Response(text=twiml, content_type="text/xml")

    app = web.Application()
    app.router.add_post("/voice", voice)
    server: TestServer = await aiohttp_server(app)  # type: ignore[operator]
    return server


async def _records(stack: Stack) -> list[CallRecord]:
    return await stack.app[STORE].store.list_calls(CallQuery(), 50)
