"""A route with `original_under_translation_db`: each party hears the other's own voice, and
the translation over it with the original ducked to the route's level."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from bridge.audio import codecs
from bridge.audio.converter import Converter
from bridge.audio.formats import PCM16_8K as PCM_8K
from bridge.audio.formats import AudioFormat, Encoding
from bridge.demo_ducking import mixed_levels
from bridge.sim.console_agent import ConsoleAgent
from tests.e2e.carriers import CARRIERS
from tests.e2e.conftest import (
    CONSOLE_DUCKED,
    CUSTOMER,
    DUCKED,
    StackFactory,
    assert_cleaned_up,
    bridged_call,
    mulaw,
    received,
)
from tests.e2e.test_console import console_key

SECOND = 16000  # bytes of 8 kHz PCM16
FRAME = 160  # bytes of a 20 ms mu-law frame
PCM_48K = AudioFormat(Encoding.PCM16LE, 48000)


def linear(data: bytes) -> np.ndarray:
    return np.frombuffer(data, np.int16).astype(np.float64)


@pytest.mark.parametrize("carrier_name", CARRIERS)
async def test_the_listener_hears_the_original_then_the_translation_over_it_ducked(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack(translation_delay_s=0.3)
    said = customer_speech[: 2 * SECOND]
    async with asyncio.timeout(20):
        customer, agent, call = await bridged_call(stack, DUCKED)
        customer.speak(said)
        # The customer's two seconds, and the translation up to a second behind them.
        await agent.wait_until(lambda: len(received(agent)) >= 3 * 8000)
        heard = received(agent)

        # Before the translation arrives the agent hears the customer's voice untouched.
        start = heard.index(mulaw(said)[: 10 * FRAME])
        # Then the translation (the simulator's: the same speech, later) rides over it, at
        # full level, with the original at the route's level under it.
        levels = mixed_levels(linear(codecs.decode(Encoding.MULAW, heard)), linear(said), start)
        assert 0.3 <= levels.lag_s <= 0.9, levels
        assert levels.translation_db == pytest.approx(0.0, abs=1.0)
        assert levels.original_db == pytest.approx(-18.0, abs=1.0)
        # Continuous: from its first frame on, the agent's loudspeaker never ran dry.
        assert agent.holes == []

        await customer.hang_up()
        await assert_cleaned_up(stack, call)


async def test_an_agent_in_the_console_hears_the_original_under_the_translation(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    """The console's leg (48 kHz PCM) mixes the same way as a carrier's."""
    stack = await make_stack(translation_delay_s=0.3)
    said = customer_speech[: 2 * SECOND]
    async with asyncio.timeout(30), ConsoleAgent(stack.url, await console_key(stack)) as agent:
        agent.watch_desk()
        customer = await stack.call_in(CUSTOMER, CONSOLE_DUCKED)
        call_id = await agent.ringing()
        call = await stack.call_for(lambda c: c.id == call_id)
        await agent.open_media(await agent.answer(call_id))
        await call.activated.wait()
        customer.speak(said)
        await agent.wait_until(lambda: len(agent.received) >= 3 * 48000 * 2)
        heard = linear(Converter(PCM_48K, PCM_8K).convert(bytes(agent.received)))
        original = linear(said)
        # Where the original starts in what the console played (resampled twice: to the sample).
        onset = original[:1600]
        scores = np.correlate(heard[:8000], onset, mode="valid")
        start = int(np.argmax(scores))
        levels = mixed_levels(heard, original, start)
        assert 0.3 <= levels.lag_s <= 0.9, levels
        assert levels.translation_db == pytest.approx(0.0, abs=1.0)
        assert levels.original_db == pytest.approx(-18.0, abs=1.0)

        await agent.hang_up(call_id)
        await assert_cleaned_up(stack, call)
