"""`GET /v1/calls[/{id}]` over the records, with this instance's live calls laid on top."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bridge.sim.softphone import Phone
from bridge.web.call_view import call_json, iso_utc
from tests.e2e.conftest import AGENT, CENTRE, CUSTOMER, Stack
from tests.store.stack import RecordsStacks, records
from tests.store.support import T0, a_call


async def api(stack: Stack, path: str, **params: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(stack.url + path, params=params, headers=stack.api_headers()) as response,
    ):
        return response.status, await response.json()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


async def live_call(stack: Stack):  # type: ignore[no-untyped-def]
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    customer = await stack.carrier.place_call(CUSTOMER, CENTRE, stack.voice_url)
    call = await stack.call_for()
    await call.activated.wait()
    return customer, call


async def test_a_listing_pages_through_stored_and_live_calls_alike(stacks: RecordsStacks) -> None:
    stack = await stacks.start()
    stored = [
        a_call(
            n,
            instance="bridge-other",
            end_reason="agent_unavailable" if n % 5 == 0 else "customer_hangup",
        )
        for n in range(30)
    ]
    await records(stack).store.save_calls(stored)
    async with asyncio.timeout(20):
        customer, call = await live_call(stack)

        seen: list[str] = []
        status, page = await api(stack, "/v1/calls", limit="8")
        assert status == 200
        first = page["calls"][0]
        assert (first["call_id"], first["state"]) == (call.id, "active")  # newest, and live
        assert (first["instance"], first["route"]) == ("bridge-test", CENTRE)
        while True:
            seen += [c["call_id"] for c in page["calls"]]
            if page["before"] is None:
                break
            _, page = await api(stack, "/v1/calls", limit="8", before=page["before"])
        assert seen == [call.id] + [f"call_{n:04d}" for n in reversed(range(30))]

        _, active = await api(stack, "/v1/calls", status="active")
        assert [c["call_id"] for c in active["calls"]] == [call.id]
        _, window = await api(
            stack,
            "/v1/calls",
            since=iso(T0 + 10),
            until=iso(T0 + 20),
            end_reason="agent_unavailable",
        )
        assert [c["call_id"] for c in window["calls"]] == ["call_0015", "call_0010"]
        assert window["before"] is None
        _, newer = await api(stack, "/v1/calls", after=window["after"], limit="3")
        assert [c["call_id"] for c in newer["calls"]] == ["call_0018", "call_0017", "call_0016"]

        await customer.hang_up()
        await call.ended()
    _, ended = await api(stack, "/v1/calls", status="ended", limit="1")
    assert (ended["calls"][0]["call_id"], ended["calls"][0]["end_reason"]) == (
        call.id,
        "customer_hangup",
    )


async def test_bad_listing_parameters_say_what_is_valid(stacks: RecordsStacks) -> None:
    stack = await stacks.start()
    status, answer = await api(stack, "/v1/calls", limit="500")
    assert (status, answer["error"]["code"]) == (422, "invalid_limit")
    status, answer = await api(stack, "/v1/calls", since="last tuesday")
    assert (status, answer["error"]["code"]) == (422, "invalid_since")
    assert "ISO-8601" in answer["error"]["message"]


async def test_one_call_is_read_live_while_it_runs_and_from_its_record_after(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start()
    await records(stack).store.save_calls([a_call(1, instance="bridge-other")])
    async with asyncio.timeout(20):
        customer, call = await live_call(stack)
        status, live = await api(stack, f"/v1/calls/{call.id}")
        assert (status, live["state"], live["instance"]) == (200, "active", "bridge-test")
        assert live["kallglot_events"] == []  # this stack's simulator sends no webhooks
        await customer.hang_up()
        await call.ended()
    await records(stack).flush()
    stored = await records(stack).get(call.id)
    assert stored is not None
    status, after = await api(stack, f"/v1/calls/{call.id}")
    assert after == {**call_json(stored), "kallglot_events": []}
    assert after["ended_at"] == iso_utc(stored.ended_at or 0)  # ISO-8601 UTC, not unix seconds
    assert after["end_reason"] == "customer_hangup"

    status, other = await api(stack, "/v1/calls/call_0001")
    assert (status, other["instance"]) == (200, "bridge-other")
    status, missing = await api(stack, "/v1/calls/call_nope")
    assert (status, missing["error"]["code"]) == (404, "not_found")


async def test_an_outbound_dial_nobody_answers_still_gets_a_record(stacks: RecordsStacks) -> None:
    stack = await stacks.start()
    stack.carrier.add_phone(AGENT, Phone(answer="no-answer", ring_s=0.3))
    async with asyncio.timeout(20), aiohttp.ClientSession() as http:
        async with http.post(
            stack.url + "/v1/calls",
            json={"to": CUSTOMER, "agent": AGENT},
            headers=stack.api_headers(),
        ) as response:
            assert response.status == 201
            call_id = (await response.json())["call_id"]
        await records(stack).flush()
        dialing = await records(stack).get(call_id)
        assert dialing is not None
        assert dialing.direction == "outbound"
        agent = await stack.carrier.next_call(to=AGENT)
        await agent.ended.wait()  # its no-answer status callback has been answered
    await records(stack).flush()
    record = await records(stack).get(call_id)
    assert record is not None
    assert (record.state, record.end_reason, record.error) == (
        "ended",
        "agent_unavailable",
        "no-answer",
    )
    assert [(leg.role, leg.carrier_call_id) for leg in record.legs] == [("agent", agent.sid)]
