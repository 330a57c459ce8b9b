"""The console page in real Chromium: an agent answers a simulated customer's call in the page.

The page's microphone is the English agent's recorded speech (Chromium's fake capture device);
the customer is a simulated phone on the Twilio simulator; Kallglot is the simulator, whose
"translation" hands each party the other's audio. So the customer hearing speech proves the
page's microphone path, the page showing the customer's caption and its translation proves the
captions path, and hanging up in the page must end the call and its Kallglot session.
"""

from __future__ import annotations

import asyncio
import statistics

import pytest

from bridge.audio.formats import AudioFormat, Encoding
from bridge.audio.levels import is_silent
from bridge.calls.model import EndReason
from bridge.sim.browser_agent import BrowserAgent
from tests.browser.conftest import SPEECH_WAV, LaunchBrowser
from tests.e2e.conftest import CONSOLE, CUSTOMER, StackFactory, assert_cleaned_up, received
from tests.e2e.test_console import console_key

pytestmark = pytest.mark.long  # Chromium: CI's profile (tests/profile.py)


MULAW = AudioFormat(Encoding.MULAW, 8000)
SECOND = 16000  # bytes of 8 kHz PCM16


def voiced_frames(audio: bytes) -> int:
    return sum(not is_silent(audio[i : i + 160], MULAW) for i in range(0, len(audio), 160))


async def test_an_agent_answers_in_the_page_hears_sees_and_hangs_up(
    make_stack: StackFactory, launch_browser: LaunchBrowser, customer_speech: bytes
) -> None:
    stack = await make_stack()
    key = await console_key(stack)
    browser = await launch_browser(SPEECH_WAV)
    async with asyncio.timeout(60):
        agent = await BrowserAgent.sign_in(browser, f"{stack.url}/console#key={key}")
        assert "#key=" not in agent.page.url  # the key left the address bar
        customer = await stack.call_in(CUSTOMER, CONSOLE)
        await agent.answer()
        call = await stack.call_for()
        await call.activated.wait()

        customer.speak(customer_speech[: 2 * SECOND])
        caption = await agent.wait_caption("customer", "customer utterance 1")
        assert caption["translation"].startswith("[en]")
        # The agent's (looping) recorded speech reached the customer, translated: a second
        # of it, not silence.
        await customer.wait_until(lambda: voiced_frames(received(customer)) >= 50)

        stats = await agent.stats()
        assert stats["framesSent"] > 100
        assert stats["framesReceived"] > 100
        assert stats["marksEchoed"] > 0
        assert statistics.median(stats["jitterDelayMs"]) < 200

        await agent.hang_up()
        await call.ended()
        await customer.ended.wait()
    assert call.end_reason is EndReason.AGENT_HANGUP
    assert "you hung up" in await agent.status()
    await assert_cleaned_up(stack, call)


async def test_closing_the_tab_ends_the_call(
    make_stack: StackFactory, launch_browser: LaunchBrowser
) -> None:
    stack = await make_stack()
    browser = await launch_browser(SPEECH_WAV)
    async with asyncio.timeout(60):
        agent = await BrowserAgent.sign_in(
            browser, f"{stack.url}/console#key={await console_key(stack)}"
        )
        customer = await stack.call_in(CUSTOMER, CONSOLE)
        await agent.answer()
        call = await stack.call_for()
        await call.activated.wait()
        await agent.page.close()
        await call.ended()
        await customer.ended.wait()
    assert call.end_reason is EndReason.AGENT_HANGUP
    await assert_cleaned_up(stack, call)


async def test_the_customer_hanging_up_ends_the_call_in_the_page(
    make_stack: StackFactory, launch_browser: LaunchBrowser
) -> None:
    stack = await make_stack()
    browser = await launch_browser(SPEECH_WAV)
    link = f"{stack.url}/console#key={await console_key(stack)}"
    async with asyncio.timeout(60):
        agent = await BrowserAgent.sign_in(browser, link)
        customer = await stack.call_in(CUSTOMER, CONSOLE)
        await agent.answer()
        call = await stack.call_for()
        await call.activated.wait()
        await customer.hang_up()
        await call.ended()
        await agent.wait_state("ended")
        await agent.page.locator('#call-state[data-kind="ended"]').wait_for()
    assert call.end_reason is EndReason.CUSTOMER_HANGUP
    stats = await agent.stats()
    # Everything the bridge sent the page arrived before it closed the page's socket.
    assert stats["framesReceived"] == call.summary().legs["agent"].frames_out
