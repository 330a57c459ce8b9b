"""A draining instance behind a retrying balancer hands new calls on with 503; alone, it says
it is busy. (The cluster test shows nginx acting on it; this pins the bridge's side.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.carriers.twilio.signature import SIGNATURE_HEADER, TwilioSignatures
from bridge.web.app import BALANCER_RETRY_HEADER
from bridge.web.keys import REGISTRY
from tests.e2e.conftest import CENTRE, CUSTOMER, Stack
from tests.store.stack import RecordsStacks

RETRY = {BALANCER_RETRY_HEADER: "503"}


@pytest.fixture
async def stack(aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Stack]:
    stacks = RecordsStacks(aiohttp_server, tmp_path)
    made = await stacks.start()
    made.app[REGISTRY].draining = True  # what SIGTERM does first
    yield made
    await stacks.close()


async def post_signed(
    stack: Stack, path: str, form: dict[str, str], headers: dict[str, str]
) -> tuple[int, str]:
    url = stack.url + path
    signature = TwilioSignatures(stack.carrier.auth_token).sign(url, form)
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=form, headers={SIGNATURE_HEADER: signature, **headers}) as response,
    ):
        return response.status, await response.text()


VOICE = {"CallSid": "CA" + "1" * 32, "From": CUSTOMER, "To": CENTRE, "CallStatus": "ringing"}


async def test_a_new_calls_webhook_goes_back_to_the_balancer(stack: Stack) -> None:
    status, _ = await post_signed(stack, "/twilio/voice", VOICE, RETRY)
    assert status == 503


async def test_without_a_balancer_the_caller_hears_that_we_are_busy(stack: Stack) -> None:
    status, twiml = await post_signed(stack, "/twilio/voice", VOICE, {})
    assert status == 200
    assert "<Say" in twiml
    assert "<Connect>" not in twiml


async def test_requests_for_calls_it_does_not_hold_go_elsewhere(stack: Stack) -> None:
    form = {"CallSid": "CA" + "2" * 32, "CallStatus": "in-progress"}
    status, _ = await post_signed(stack, "/twilio/status/call_elsewhere/agent", form, RETRY)
    assert status == 503
    async with (
        aiohttp.ClientSession() as http,
        http.get(stack.url + "/twilio/media/call_elsewhere", headers=RETRY) as response,
    ):
        assert response.status == 503  # before the WebSocket upgrade: the balancer retries it
    # Everything else is served as usual while draining.
    async with (
        aiohttp.ClientSession() as http,
        http.get(stack.url + "/v1/calls", headers={**RETRY, **stack.api_headers()}) as response,
    ):
        assert response.status == 200
