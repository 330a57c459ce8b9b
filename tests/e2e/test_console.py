"""The agent's leg in the console: a route's `browser:<id>` agent answers in the browser.

The console's page is exercised in real Chromium by tests/browser; here its wire protocol is
spoken by the simulated console agent (bridge/sim/console_agent.py), so every refusal and
ending can be checked quickly: the call rings the console, the agent answers, each side hears
the other (48 kHz PCM at the console, resampled), captions arrive, and hanging up in the
console ends the call and its Kallglot session. Bad tickets and frames touch no other call.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from bridge.audio.converter import Converter
from bridge.audio.formats import AudioFormat, Encoding
from bridge.audio.levels import is_silent
from bridge.calls.call import Call
from bridge.calls.model import EndReason
from bridge.sim.console_agent import ConsoleAgent, ConsoleRefused
from bridge.sim.softphone import Phone
from tests.e2e.conftest import (
    CONSOLE,
    CUSTOMER,
    Stack,
    StackFactory,
    assert_cleaned_up,
    mulaw,
    received,
)

PCM_48K = AudioFormat(Encoding.PCM16LE, 48000)
PCM_8K = AudioFormat(Encoding.PCM16LE, 8000)
MULAW = AudioFormat(Encoding.MULAW, 8000)
SECOND = 16000  # bytes of 8 kHz PCM16


async def console_key(stack: Stack, agent: str = "alice", **body: Any) -> str:
    async with aiohttp.ClientSession() as http:
        url = f"{stack.url}/v1/agents/{agent}/console-links"
        async with http.post(url, json=body, headers=stack.api_headers()) as response:
            assert response.status == 201, await response.text()
            link = await response.json()
    assert link["url"].startswith(stack.url + "/console#key=")
    return str(link["url"].partition("#key=")[2])


def voiced_frames(audio: bytes, fmt: AudioFormat) -> int:
    size = fmt.bytes_for_ms(20)
    return sum(not is_silent(audio[i : i + size], fmt) for i in range(0, len(audio), size))


async def ringing_call(stack: Stack, agent: ConsoleAgent) -> tuple[Any, str, Call]:
    """A customer calls the console route; returns once the console rings."""
    agent.watch_desk()
    customer = await stack.call_in(CUSTOMER, CONSOLE)
    call_id = await agent.ringing()
    call = await stack.call_for(lambda c: c.id == call_id)
    return customer, call_id, call


async def answered_call(stack: Stack, agent: ConsoleAgent) -> tuple[Any, str, Call]:
    """A customer calls the console route and the agent answers; returns once audio flows."""
    customer, call_id, call = await ringing_call(stack, agent)
    await agent.open_media(await agent.answer(call_id))
    await call.activated.wait()
    return customer, call_id, call


async def test_an_agent_answers_in_the_console_and_each_side_hears_the_other(
    make_stack: StackFactory, customer_speech: bytes, agent_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(30), ConsoleAgent(stack.url, await console_key(stack)) as agent:
        customer, call_id, call = await answered_call(stack, agent)

        said = customer_speech[: 2 * SECOND]
        customer.speak(said)
        expected = voiced_frames(mulaw(said), MULAW)
        await agent.wait_until(
            lambda: voiced_frames(bytes(agent.received), PCM_48K) >= 0.9 * expected
        )

        agent.speak(Converter(PCM_8K, PCM_48K).convert(agent_speech[: 2 * SECOND]))
        expected = voiced_frames(mulaw(agent_speech[: 2 * SECOND]), MULAW)
        await customer.wait_until(
            lambda: voiced_frames(received(customer), MULAW) >= 0.9 * expected
        )

        # Marks came back from the console's playback: playout follows its clock.
        await agent.wait_until(lambda: len(agent.marks_echoed) >= 2)
        await agent.hang_up(call_id)
        await call.ended()
        await customer.ended.wait()

    assert call.end_reason is EndReason.AGENT_HANGUP
    leg = call.summary().legs["agent"]
    assert leg.carrier == "browser"
    assert leg.frames_in > 100
    assert leg.frames_dropped == 0
    await assert_cleaned_up(stack, call)


async def test_the_console_gets_captions_of_its_call_and_not_of_anothers(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    key = await console_key(stack)
    async with asyncio.timeout(30), ConsoleAgent(stack.url, key) as agent:
        customer, call_id, call = await answered_call(stack, agent)
        customer.speak(customer_speech[: 2 * SECOND])
        async with aiohttp.ClientSession() as http:
            url = f"{stack.url}/console/calls/{call_id}/captions"
            async with http.ws_connect(url) as ws:
                await ws.send_str(json.dumps({"key": key}))
                final = None
                while final is None:
                    update = json.loads((await ws.receive()).data)
                    if update["type"] == "caption" and update["final"]:
                        final = update
            assert final["speaker"] == "customer"
            assert final["language"] == "de"
            assert final["translation_language"] == "en"
            assert "customer utterance 1" in final["text"]
            assert final["translation"].startswith("[en]")

            # Another agent's key sees nothing of this call.
            bob = await console_key(stack, "bob")
            async with http.ws_connect(url) as ws:
                await ws.send_str(json.dumps({"key": bob}))
                closing = await ws.receive()
                assert ws.close_code == 4403, closing
        await customer.hang_up()
        await call.ended()


async def test_a_second_tab_and_a_replayed_or_foreign_ticket_are_refused(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    key = await console_key(stack)
    async with (
        asyncio.timeout(30),
        ConsoleAgent(stack.url, key) as agent,
        ConsoleAgent(stack.url, key) as second_tab,
        ConsoleAgent(stack.url, key) as intruder,
    ):
        customer, call_id, call = await ringing_call(stack, agent)
        answer = await agent.answer(call_id)
        with pytest.raises(ConsoleRefused) as refused:
            await second_tab.answer(call_id)
        assert refused.value.status == 409
        await agent.open_media(answer)
        await call.activated.wait()
        # What the page is given names the bridge only: no Kallglot key, session or stream token.
        assert call.session is not None
        assert call.session.stream is not None
        given = json.dumps([answer, agent.calls])
        secrets = (stack.kallglot.api_key, call.session.id, call.session.stream.token, "kallglot")
        for secret in secrets:
            assert secret not in given

        # The same ticket again (a second tab that copied it): refused, the call goes on.
        await intruder.open_media(answer)
        await intruder.wait_until(lambda: intruder.close_code is not None)
        assert intruder.close_code == 1008
        assert "used already" in intruder.close_reason
        # A made-up leg id with this call's genuine ticket: refused too.
        forged = "BR" + "0" * 32 + "." + answer["ticket"].partition(".")[2]
        await second_tab.open_media(answer, ticket=forged)
        await second_tab.wait_until(lambda: second_tab.close_code is not None)
        assert second_tab.close_code == 1008
        assert "unknown or foreign ticket" in second_tab.close_reason

        assert call in stack.live_calls()
        await customer.hang_up()
        await call.ended()
    assert call.end_reason is EndReason.CUSTOMER_HANGUP


async def test_a_frame_of_the_wrong_size_ends_only_that_call(make_stack: StackFactory) -> None:
    stack = await make_stack()
    key = await console_key(stack)
    async with asyncio.timeout(30), ConsoleAgent(stack.url, key) as agent:
        customer, _, call = await answered_call(stack, agent)
        await agent.send_raw(bytes(1000))
        await call.ended()
        await customer.ended.wait()
    assert call.end_reason is EndReason.PROTOCOL_ERROR
    assert "1920 bytes" in (call.error or "")
    assert agent.close_code == 1008


async def test_declining_in_the_console_is_an_agent_who_did_not_answer(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(30), ConsoleAgent(stack.url, await console_key(stack)) as agent:
        customer, call_id, call = await ringing_call(stack, agent)
        await agent.decline(call_id)
        await call.ended()
        await customer.ended.wait()
    assert call.end_reason is EndReason.AGENT_UNAVAILABLE
    assert any("niemand" in s.text or "Sorry" in s.text for s in customer.said)
    await assert_cleaned_up(stack, call)


async def test_console_links_need_the_api_token_and_a_valid_agent(make_stack: StackFactory) -> None:
    stack = await make_stack()
    async with aiohttp.ClientSession() as http:
        url = f"{stack.url}/v1/agents/alice/console-links"
        async with http.post(url) as response:
            assert response.status == 401
        bad = f"{stack.url}/v1/agents/no%20spaces/console-links"
        async with http.post(bad, headers=stack.api_headers()) as response:
            assert response.status == 422
        async with http.post(url, json={"ttl_s": 5}, headers=stack.api_headers()) as response:
            assert response.status == 422
            assert "ttl_s" in (await response.json())["error"]["message"]
        key = await console_key(stack)
        me = f"{stack.url}/console/api/me"
        async with http.get(me, headers={"Authorization": f"Bearer {key}"}) as response:
            assert (await response.json())["agent"] == "alice"
        forged = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
        async with http.get(me, headers={"Authorization": f"Bearer {forged}"}) as response:
            assert response.status == 401
            assert "new sign-in link" in (await response.json())["error"]["message"]
        async with http.get(f"{stack.url}/console") as response:
            assert response.status == 200
            assert "script" in await response.text()
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        async with http.get(f"{stack.url}/console/static/..%2Fapi.py") as response:
            assert response.status == 404


async def test_an_outbound_call_rings_the_console_agent_first(make_stack: StackFactory) -> None:
    stack = await make_stack()
    stack.carrier.add_phone(CUSTOMER, Phone(ring_s=0.1))
    new_call = {"to": CUSTOMER, "agent": "browser:alice", "source_language": "de"}
    async with asyncio.timeout(30), ConsoleAgent(stack.url, await console_key(stack)) as agent:
        agent.watch_desk()
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{stack.url}/v1/calls", json=new_call, headers=stack.api_headers()) as made,
        ):
            assert made.status == 201, await made.text()
            call_id = (await made.json())["call_id"]
        assert await agent.ringing() == call_id
        await agent.open_media(await agent.answer(call_id))
        customer = await stack.carrier.next_call(to=CUSTOMER)
        call = await stack.call_for(lambda c: c.id == call_id)
        await call.activated.wait()
        await customer.hang_up()
        await call.ended()
    assert call.end_reason is EndReason.CUSTOMER_HANGUP
    assert call.summary().legs["agent"].carrier == "browser"


async def test_a_console_that_drops_off_the_network_ends_its_call(make_stack: StackFactory) -> None:
    stack = await make_stack()
    async with asyncio.timeout(30), ConsoleAgent(stack.url, await console_key(stack)) as agent:
        customer, _, call = await answered_call(stack, agent)
        await agent.lose_network()
        await call.ended()  # within 1.5 heartbeats (7.5 s), not never
        await customer.ended.wait()
    assert call.end_reason is EndReason.AGENT_HANGUP
    await assert_cleaned_up(stack, call)
