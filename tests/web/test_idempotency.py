"""`POST /v1/calls` with an `Idempotency-Key`: a retry never dials twice, over real HTTP.

Dials are counted where they happen, in the carrier simulator (or, for a carrier that fails,
in a stub standing in for its REST API).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from aiohttp import web

from bridge.sim.softphone import Phone
from bridge.web.keys import REGISTRY
from tests.e2e.conftest import AGENT, CUSTOMER, Stack
from tests.store.stack import RecordsStacks

NEW_CALL = {"to": CUSTOMER, "agent": AGENT, "source_language": "de", "target_language": "en"}


async def post(
    stack: Stack, body: bytes | dict[str, Any], key: str | None = None
) -> tuple[int, bytes, aiohttp.typedefs.LooseHeaders]:
    headers = {**stack.api_headers(), "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.url + "/v1/calls", data=data, headers=headers) as response,
    ):
        return response.status, await response.read(), response.headers


def dials(stack: Stack) -> int:
    return sum(1 for call in stack.carrier.calls.values() if call.to == AGENT)


async def test_a_retry_gets_the_first_answer_byte_for_byte_and_dials_no_one(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start()
    stack.carrier.add_phone(AGENT, Phone(answer="no-answer", ring_s=0.2))
    async with asyncio.timeout(20):
        status, first, headers = await post(stack, NEW_CALL, key="order-7781")
        assert (status, "Idempotent-Replayed" in headers) == (201, False)
        agent = await stack.carrier.next_call(to=AGENT)
        await agent.ended.wait()  # the dial is over: the call has moved on since

        # The same body, keys reordered and spaced differently: the same request.
        same = json.dumps(dict(reversed(NEW_CALL.items())), indent=2).encode()
        status, again, headers = await post(stack, same, key="order-7781")
        assert (status, again, headers["Idempotent-Replayed"]) == (201, first, "true")
        assert json.loads(again)["state"] == "dialing_agent"  # the first answer, not today's

        status, refused, _ = await post(stack, {**NEW_CALL, "to": "+15550100099"}, "order-7781")
        error = json.loads(refused)["error"]
        assert (status, error["code"]) == (422, "idempotency_key_reused")
        assert "different request body" in error["message"]
        assert dials(stack) == 1

        status, other, _ = await post(stack, NEW_CALL, key="order-7782")  # a new key: a new call
        assert status == 201
        assert json.loads(other)["call_id"] != json.loads(first)["call_id"]
        assert dials(stack) == 2


async def test_concurrent_retries_dial_once(stacks: RecordsStacks) -> None:
    stack = await stacks.start()
    stack.carrier.add_phone(AGENT, Phone(ring_s=30))
    async with asyncio.timeout(20):
        answers = await asyncio.gather(*(post(stack, NEW_CALL, key="burst") for _ in range(6)))
    created = {body for status, body, _ in answers if status == 201}
    busy = [json.loads(body)["error"]["code"] for status, body, _ in answers if status != 201]
    assert len(created) == 1  # however many got a 201, it is the same call
    assert set(busy) <= {"idempotency_key_in_use"}
    assert dials(stack) == 1


async def test_a_request_refused_before_dialling_leaves_its_key_free(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start()
    stack.carrier.add_phone(AGENT, Phone(ring_s=30))
    async with asyncio.timeout(20):
        status, _, _ = await post(stack, {**NEW_CALL, "to": "555"}, key="k1")
        assert status == 422
        stack.app[REGISTRY].draining = True
        status, _, _ = await post(stack, NEW_CALL, key="k1")
        assert status == 503
        stack.app[REGISTRY].draining = False
        status, body, headers = await post(stack, NEW_CALL, key="k1")
    assert (status, "Idempotent-Replayed" in headers) == (201, False)
    assert json.loads(body)["state"] == "dialing_agent"
    assert dials(stack) == 1


async def test_a_carrier_failure_is_kept_too_so_a_retry_cannot_ring_twice(
    stacks: RecordsStacks, aiohttp_server: Any
) -> None:
    """A carrier that errs may still have placed the call (a 5xx after committing, a lost
    response): the retry gets the same 502 and the carrier is not asked again."""
    asked: list[str] = []

    async def broken(request: web.Request) -> web.Response:
        asked.append(request.path)
        return web.json_response({"code": 20500, "message": "Internal", "status": 500}, status=500)

    stub = web.Application()
    stub.router.add_route("*", "/{tail:.*}", broken)
    server = await aiohttp_server(stub)
    stack = await stacks.start(TWILIO_API_URL=str(server.make_url("")).rstrip("/"))
    async with asyncio.timeout(20):
        status, first, _ = await post(stack, NEW_CALL, key="k-502")
        assert status == 502
        tried = len(asked)
        assert tried >= 1
        status, again, headers = await post(stack, NEW_CALL, key="k-502")
    assert (status, again, headers["Idempotent-Replayed"]) == (502, first, "true")
    assert len(asked) == tried


async def test_a_key_that_cannot_be_one_is_refused_with_what_a_key_is(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start()
    for key in ["", "x" * 256, "two words"]:
        status, body, _ = await post(stack, NEW_CALL, key=key)
        error = json.loads(body)["error"]
        assert (status, error["code"]) == (400, "invalid_idempotency_key"), key
        assert "Idempotency-Key" in error["message"]
    assert dials(stack) == 0
