"""A real call over Vonage at 16 kHz (VONAGE_SAMPLE_RATE=16000, Vonage's recommendation).

Every other end-to-end scenario runs Vonage at 8 kHz so that they can compare mu-law byte for
byte; this one runs the wideband leg through the whole stack: the simulated phones speak 8 kHz
speech that Vonage carries as 640-byte L16 frames, the bridge converts to Kallglot's format and
back, and each party hears the other. Resampling moves samples, so what is compared is what a
listener would notice: every frame arrived (none lost, none refused by Vonage, no underflow),
aligned speech that matches what was said sample for sample (no frame lost or doubled, which
would shift the rest), at the level it was said.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.e2e.conftest import StackFactory, bridged_call

SECOND = 16000  # bytes of 8 kHz PCM16


@pytest.fixture
def carrier_name() -> str:
    return "vonage"


def match(said: bytes, heard: bytes) -> tuple[float, float]:
    """(SNR in dB, level difference in dB) of `heard` against `said`, once aligned."""
    a = np.frombuffer(said, np.int16).astype(np.float64)
    b = np.frombuffer(heard, np.int16).astype(np.float64)
    lag = int(np.argmax(np.correlate(b, a[:4000], mode="valid")))
    b = b[lag : lag + len(a)]
    a = a[: len(b)]
    snr = 10 * np.log10(np.sum(a**2) / np.sum((a - b) ** 2))
    return float(snr), float(20 * np.log10(np.std(b) / np.std(a)))


async def test_a_16_khz_call_carries_speech_both_ways_whole_and_at_its_level(
    make_stack: StackFactory, customer_speech: bytes, agent_speech: bytes
) -> None:
    stack = await make_stack(VONAGE_SAMPLE_RATE="16000")
    said_by_customer = customer_speech[: 2 * SECOND]
    said_by_agent = agent_speech[: 2 * SECOND]
    async with asyncio.timeout(20):
        customer, agent, call = await bridged_call(stack)
        customer.speak(said_by_customer)
        agent.speak(said_by_agent)
        for party in (agent, customer):  # two seconds of the other, and a little more
            await party.wait_heard(2 * SECOND // 2 + 1600)
        summary = call.summary()
        await customer.hang_up()
        await call.ended()
        await agent.ended.wait()

    for party in (customer, agent):
        assert party.stream_parameters  # a stream ran ...
        assert not party.warnings  # ... and Vonage refused no frame (size, buffer)
    for leg in summary.legs.values():
        assert leg.frames_dropped == 0
        assert leg.underflows == 0
    assert customer.stream_rates == agent.stream_rates == [16000]  # L16 at 16 kHz both ways
    for said, party in ((said_by_customer, agent), (said_by_agent, customer)):
        snr, level = match(said, party.heard_pcm())
        assert snr > 33, snr  # sample for sample (one mu-law encode alone: 37 dB)
        assert abs(level) < 1.0, level
