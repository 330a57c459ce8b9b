"""`POST /kallglot/webhooks`: verified, de-duplicated, recorded, and acted on, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bridge.calls.model import EndReason
from bridge.kallglot.webhooks import SIGNATURE_HEADER, sign
from bridge.sim.softphone import Phone
from tests.e2e.conftest import AGENT, CENTRE, CUSTOMER, Stack
from tests.store.stack import WEBHOOK_SECRET, RecordsStacks, records


def envelope(event_id: str = "evt_1", event_type: str = "session.created", **data: Any) -> bytes:
    body = {
        "id": event_id,
        "type": event_type,
        "api_version": "v1",
        "created_at": "2027-01-15T08:00:00Z",
        "data": {"id": "sess_1", "object": "session", **data},
    }
    return json.dumps(body, separators=(",", ":")).encode()


async def deliver(
    stack: Stack, body: bytes, signature: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature or sign(body, WEBHOOK_SECRET),
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.url + "/kallglot/webhooks", data=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def test_a_signed_event_is_recorded_and_a_redelivery_changes_nothing(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start()
    body = envelope()
    assert await deliver(stack, body) == (200, {"status": "recorded", "id": "evt_1"})
    # Kallglot retries with a fresh `t` (and a new signature) on every attempt.
    resigned = sign(body, WEBHOOK_SECRET, int(time.time()) + 1)
    assert await deliver(stack, body, resigned) == (200, {"status": "duplicate", "id": "evt_1"})

    (event,) = await records(stack).store.events()
    assert (event.event_id, event.type, event.session_id) == ("evt_1", "session.created", "sess_1")
    assert event.payload.encode() == body  # the exact bytes that were verified
    assert event.instance == "bridge-test"


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda body: (body, sign(body, "whsec_wrong")), id="wrong-secret"),
        pytest.param(
            lambda body: (body, sign(body, WEBHOOK_SECRET, int(time.time()) - 600)), id="stale-t"
        ),
        pytest.param(
            lambda body: (body.replace(b"evt_1", b"evt_2"), sign(body, WEBHOOK_SECRET)),
            id="tampered-body",
        ),
        pytest.param(lambda body: (body, "v1=" + "0" * 64), id="no-timestamp"),
    ],
)
async def test_anything_not_signed_with_our_secret_is_refused(
    stacks: RecordsStacks, spoil: Callable[[bytes], tuple[bytes, str]]
) -> None:
    stack = await stacks.start()
    body, signature = spoil(envelope())
    status, answer = await deliver(stack, body, signature)
    assert status == 401
    assert answer["error"]["code"] == "bad_signature"
    assert "KALLGLOT_WEBHOOK_SECRET" in answer["error"]["message"]
    assert await records(stack).store.events() == []


async def test_without_a_secret_webhooks_are_refused_with_what_to_set(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start(KALLGLOT_WEBHOOK_SECRET="")
    status, answer = await deliver(stack, envelope())
    assert status == 503
    assert "set KALLGLOT_WEBHOOK_SECRET" in answer["error"]["message"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "invalid_json"),
        (b"[1, 2]", "invalid_event"),
        (b'{"type": "session.ended", "data": {}}', "invalid_event"),
        (b'{"id": "evt_9", "data": {}}', "invalid_event"),
        (b"[" * 100_000, "invalid_json"),  # json.loads gives up with RecursionError
        (
            b'{"id": "evt_\\ud800", "type": "session.ended"}',
            "invalid_event",
        ),  # no database stores it
    ],
)
async def test_a_signed_body_that_is_no_event_is_a_bad_request(
    stacks: RecordsStacks, body: bytes, code: str
) -> None:
    stack = await stacks.start()
    status, answer = await deliver(stack, body)
    assert (status, answer["error"]["code"]) == (400, code)


async def test_a_body_over_the_limit_is_refused_as_too_large(stacks: RecordsStacks) -> None:
    stack = await stacks.start()
    status, answer = await deliver(stack, b"{" + b" " * (1024 * 1024) + b"}")
    assert (status, answer["error"]["code"]) == (413, "too_large")


async def test_a_large_transcript_event_is_accepted(stacks: RecordsStacks) -> None:
    stack = await stacks.start()  # bigger than the app's 64 KB limit for Twilio's forms
    body = envelope("evt_big", "transcript.ready", turns=["Guten Tag. " * 20] * 1000)
    assert len(body) > 200_000
    assert (await deliver(stack, body))[0] == 200


async def test_session_ended_ends_the_live_call_it_belongs_to(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start()
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    async with asyncio.timeout(20):
        customer = await stack.carrier.place_call(CUSTOMER, CENTRE, stack.voice_url)
        agent = await stack.carrier.next_call(to=AGENT)
        call = await stack.call_for()
        await call.activated.wait()
        assert call.session is not None
        body = envelope("evt_end", "session.ended", id=call.session.id, status="ended")
        status, _ = await deliver(stack, body)  # answered before the teardown is done
        assert status == 200
        await call.ended()
        await customer.ended.wait()
        await agent.ended.wait()
    assert call.end_reason is EndReason.KALLGLOT_ENDED
    assert call.error == "session.ended webhook"


async def test_the_simulators_deliveries_are_accepted_and_recorded(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start(webhooks_to_bridge=True)
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    async with asyncio.timeout(20):
        customer = await stack.carrier.place_call(CUSTOMER, CENTRE, stack.voice_url)
        call = await stack.call_for()
        await call.activated.wait()
        await customer.hang_up()
        await call.ended()
        await stack.kallglot.webhooks.wait_settled(3)

    deliveries = stack.kallglot.webhooks.deliveries
    assert [d.attempts for d in deliveries] == [["200"]] * 3  # each accepted at once
    assert call.session is not None
    stored = await records(stack).store.events(call.session.id)
    assert sorted(e.type for e in stored) == [
        "session.created",
        "session.ended",
        "transcript.ready",
    ]
    assert {e.event_id for e in stored} == {d.event_id for d in deliveries}
