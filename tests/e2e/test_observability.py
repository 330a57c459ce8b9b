"""What operators see: metrics that move, logs that say what happened and leak nothing."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.carriers.twilio.signature import SIGNATURE_HEADER
from bridge.sim.softphone import Phone
from tests.e2e.conftest import (
    AGENT,
    API_TOKEN,
    CENTRE,
    CUSTOMER,
    SECRET,
    Stack,
    StackFactory,
    assert_cleaned_up,
    bridged_call,
    mulaw,
    wait_received,
)

SECOND = 16000


async def scrape(stack: Stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as http, http.get(stack.url + "/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(metrics: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_move_with_a_call(
    make_stack: StackFactory, customer_speech: bytes, agent_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(20):
        before = await scrape(stack)
        customer, agent, call = await bridged_call(stack)
        customer.speak(customer_speech[:SECOND])
        agent.speak(agent_speech[:SECOND])
        await wait_received(agent, mulaw(customer_speech[:SECOND]))
        await wait_received(customer, mulaw(agent_speech[:SECOND]))
        during = await scrape(stack)
        await customer.hang_up()
        await assert_cleaned_up(stack, call)
        after = await scrape(stack)

    assert value(before, "bridge_calls_active") == 0
    assert value(during, "bridge_calls_active") == 1
    assert value(during, "bridge_legs_active") == 2
    assert value(after, "bridge_calls_active") == 0
    assert value(after, "bridge_calls_started_total", direction="inbound") == 1
    assert value(after, "bridge_calls_ended_total", reason="customer_hangup") == 1
    for direction in ("from_carrier", "to_carrier"):
        assert value(after, "bridge_frames_total", direction=direction) >= 50  # a second each way
        assert value(after, "bridge_frames_total", direction=direction) >= value(
            during, "bridge_frames_total", direction=direction
        )
    for direction in ("inbound", "outbound"):
        assert value(after, "bridge_added_latency_seconds_count", direction=direction) >= 10
    assert value(after, "bridge_kallglot_request_seconds_count", operation="create_session") == 1
    assert value(after, "bridge_playout_dropped_frames_total") == 0


async def test_forged_webhooks_are_counted(make_stack: StackFactory) -> None:
    stack = await make_stack()
    forged = {SIGNATURE_HEADER: "forged"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(stack.voice_url, data={"To": CENTRE}, headers=forged) as response,
    ):
        assert response.status == 403
    metrics = await scrape(stack)
    assert (
        value(metrics, "bridge_webhook_verification_failures_total", source="twilio_webhook") == 1
    )


async def test_logs_bind_call_ids_and_leak_no_secret_token_ticket_or_audio(
    make_stack: StackFactory, customer_speech: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(20):
        customer, agent, call = await bridged_call(stack)
        customer.speak(customer_speech[:SECOND])
        await wait_received(agent, mulaw(customer_speech[:SECOND]))
        await customer.hang_up()
        await assert_cleaned_up(stack, call)
    logged = capsys.readouterr().out + capsys.readouterr().err

    assert call.session is not None
    active = next(line for line in logged.splitlines() if "call_active" in line)
    assert call.id in active
    assert call.session.id in active
    secrets = {
        "Kallglot API key": stack.kallglot.api_key,
        "Twilio auth token": stack.carrier.auth_token,
        "bridge secret": SECRET,
        "API token": API_TOKEN,
        "call ticket": customer.stream_parameters["ticket"],
        **{f"stream token {n}": token for n, token in enumerate(stack.kallglot.tokens)},
    }
    leaked = [name for name, secret in secrets.items() if secret in logged]
    assert not leaked
    # No audio either: a 20 ms frame is 216 base64 characters; nothing that long gets logged.
    assert not re.search(r"[A-Za-z0-9+/]{200,}={0,2}", logged)


async def test_rejected_kallglot_credentials_end_the_call_politely_and_make_the_bridge_unready(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(KALLGLOT_API_KEY="sk_test_revoked")
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    async with asyncio.timeout(20), aiohttp.ClientSession() as http:
        customer = await stack.carrier.place_call(CUSTOMER, CENTRE, stack.voice_url)
        await customer.wait_said("Leider ist niemand erreichbar.")
        await customer.ended.wait()
        async with http.get(stack.url + "/readyz") as response:
            assert response.status == 503
            assert "Kallglot refused the API key" in (await response.json())["reason"]
    metrics = await scrape(stack)
    assert value(metrics, "bridge_kallglot_errors_total", code="invalid_api_key") == 1
    assert not stack.kallglot.sessions


async def test_at_max_calls_a_new_caller_hears_the_busy_message(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(
        BRIDGE_MAX_CALLS="1", BRIDGE_BUSY_MESSAGE="Bitte rufen Sie gleich wieder an."
    )
    async with asyncio.timeout(20), aiohttp.ClientSession() as http:
        customer, _, call = await bridged_call(stack)
        second = await stack.carrier.place_call("+15550100009", CENTRE, stack.voice_url)
        await second.wait_said("Bitte rufen Sie gleich wieder an.")
        await second.ended.wait()
        async with http.get(stack.url + "/readyz") as response:
            assert response.status == 503
        await customer.hang_up()
        await assert_cleaned_up(stack, call)
        async with http.get(stack.url + "/readyz") as response:
            assert response.status == 200
    assert not second.stream_sids


async def test_oversized_request_bodies_are_refused(make_stack: StackFactory) -> None:
    stack = await make_stack()
    async with aiohttp.ClientSession() as http:
        async with http.post(
            stack.voice_url, data={"To": CENTRE, "Junk": "x" * 100_000}
        ) as response:
            assert response.status == 413
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with http.post(
            stack.url + "/v1/calls", data=b"{" + b" " * 100_000, headers=headers
        ) as response:
            assert response.status == 413
