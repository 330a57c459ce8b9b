"""Routing per mode: one leg, assistive translation, and the legacy Kallglot stream protocol."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from bridge.audio import codecs
from bridge.audio.formats import PCM16_16K, Encoding
from bridge.sim.softphone import Phone
from tests.e2e.carriers import CARRIERS, chunk_lag_s
from tests.e2e.conftest import (
    AGENT,
    ASSIST,
    CENTRE,
    CUSTOMER,
    SOLO,
    StackFactory,
    first_heard_at,
    mulaw,
    received,
    wait_received,
)

SECOND = 16000
pytestmark = pytest.mark.parametrize("carrier_name", CARRIERS)


async def test_one_leg_call_hears_its_own_speech_translated(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(20):
        customer = await stack.call_in(CUSTOMER, SOLO)
        call = await stack.call_for()
        await call.activated.wait()
        customer.speak(customer_speech[:SECOND])
        await wait_received(customer, mulaw(customer_speech[:SECOND]))
        await customer.hang_up()
        await call.ended()

    assert not stack.carrier.calls.keys() - {customer.sid}  # nobody was dialled
    (session,) = stack.kallglot.sessions.values()
    assert session.ended_transitions == 1


async def test_assistive_agent_hears_the_original_customer_hears_the_translation(
    make_stack: StackFactory, customer_speech: bytes, agent_speech: bytes
) -> None:
    stack = await make_stack(translation_delay_s=0.5)
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    original, spoken = mulaw(customer_speech[:SECOND]), mulaw(agent_speech[:SECOND])
    async with asyncio.timeout(20):
        customer = await stack.call_in(CUSTOMER, ASSIST)
        agent = await stack.carrier.next_call(to=AGENT)
        call = await stack.call_for()
        await call.activated.wait()
        spoke_at = time.perf_counter()
        customer.speak(customer_speech[:SECOND])
        agent.speak(agent_speech[:SECOND])
        await wait_received(agent, original)
        await wait_received(customer, spoken)
        await customer.hang_up()
        await call.ended()

    direct = first_heard_at(agent, original[:160]) - spoke_at
    translated = first_heard_at(customer, spoken[:160]) - spoke_at
    assert direct < 0.3 < 0.5 <= translated  # the original skips Kallglot's 0.5 s
    (session,) = stack.kallglot.sessions.values()
    assert session.mode == "assistive_translation"
    assert original in bytes(session.received_audio["customer"])  # still transcribed
    assert "agent" not in session.sent_audio  # Kallglot speaks only to the customer


def best_snr_db(reference: np.ndarray, signal: np.ndarray, max_lag: int = 400) -> float:
    """SNR of `signal` against `reference` at the alignment that suits it best."""
    best = -np.inf
    n = len(reference) - max_lag
    for lag in range(max_lag):
        window = signal[lag : lag + n]
        if len(window) < n:
            break
        error = reference[:n] - window
        best = max(best, 10 * np.log10(np.sum(reference[:n] ** 2) / max(np.sum(error**2), 1e-9)))
    return float(best)


async def test_legacy_protocol_transcodes_to_16k_pcm_and_back(
    make_stack: StackFactory, customer_speech: bytes
) -> None:
    stack = await make_stack(KALLGLOT_STREAM_PROTOCOL="legacy")
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    said = mulaw(customer_speech[:SECOND])
    async with asyncio.timeout(20):
        customer = await stack.call_in(CUSTOMER, CENTRE)
        agent = await stack.carrier.next_call(to=AGENT)
        call = await stack.call_for()
        await call.activated.wait()
        customer.speak(customer_speech[:SECOND])
        # Resampled twice, the bytes differ; wait for the audio's worth plus the filters' delay.
        await agent.wait_until(lambda: len(received(agent)) >= len(said) + 8000)
        await customer.hang_up()
        await call.ended()

    (session,) = stack.kallglot.sessions.values()
    assert session.protocol == "legacy"
    assert session.received_format["customer"] == PCM16_16K
    heard = np.frombuffer(codecs.decode(Encoding.MULAW, received(agent)), np.int16).astype(float)
    reference = np.frombuffer(codecs.decode(Encoding.MULAW, said), np.int16).astype(float)
    # Align at the speech onsets (the line was silent before), then let the SNR find the lag.
    heard = heard[max(0, int(np.argmax(np.abs(heard) > 500)) - 200) :]
    reference = reference[int(np.argmax(np.abs(reference) > 500)) :]
    # Through 8k mu-law -> 16k PCM -> Kallglot -> 16k PCM -> 8k mu-law: still the same speech,
    # as clean as one mu-law pass (about 37 dB on this fixture; see tests/audio).
    snr = best_snr_db(reference[:6000], heard)
    assert snr > 30


async def test_at_hang_up_the_callers_last_words_reach_kallglot(make_stack: StackFactory) -> None:
    # Legacy: 8 kHz mu-law in, 16 kHz PCM to Kallglot, so a resampler holds the newest audio.
    stack = await make_stack(KALLGLOT_STREAM_PROTOCOL="legacy")
    stack.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    tone = (6000 * np.sin(2 * np.pi * 440 * np.arange(4000) / 8000)).astype(np.int16)
    async with asyncio.timeout(20):
        customer = await stack.call_in(CUSTOMER, CENTRE)
        await stack.carrier.next_call(to=AGENT)
        call = await stack.call_for()
        await call.activated.wait()
        customer.speak(tone.tobytes())  # half a second, then straight to the hang-up
        said_from = len(customer.tick_at)
        # ... once its last chunk has left the carrier (26 ticks of 20 ms frames).
        ticks = 26 + round(chunk_lag_s(stack.carrier_name) / 0.02)
        await customer.wait_until(lambda: len(customer.tick_at) >= said_from + ticks)
        await customer.hang_up()
        await call.ended()

    (session,) = stack.kallglot.sessions.values()
    got = np.abs(np.frombuffer(bytes(session.received_audio["customer"]), np.int16))
    loud = np.flatnonzero(got > 1000)
    assert (loud[-1] - loud[0]) / 16000 > 0.495  # all of the half second, to its last samples
