"""Playout through the running bridge: utterance tails, and barge-in (clear and duck).

Timing is read from the carrier simulator's loudspeaker: `heard` holds one 20 ms frame per tick
and `tick_at` when each played, so "when did the listener hear the last sample" is a lookup.
"""

from __future__ import annotations

import asyncio
import audioop
import time

import numpy as np
import pytest

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.sim.softphone import FRAME_BYTES
from tests.e2e.carriers import CARRIERS, Party, chunk_lag_s
from tests.e2e.conftest import BARGE_CLEAR, BARGE_DUCK, StackFactory, bridged_call, metric, mulaw

RATE = 8000
LOUD_RMS = 300  # the simulator's own utterance threshold
QUIET = 30  # below this a sample is the silence between utterances


def voiced_span(pcm: bytes) -> tuple[int, int]:
    """First and last sample index of `pcm` (8 kHz PCM16) that is not near-silence."""
    samples = np.abs(np.frombuffer(pcm, np.int16).astype(np.int32))
    loud = np.flatnonzero(samples > QUIET)
    return int(loud[0]), int(loud[-1])


def utterances(
    speech: bytes, count: int, seconds: float, gap_s: float
) -> tuple[bytes, list[bytes]]:
    """`count` utterances cut from real speech (trimmed to their voiced part), each followed by
    `gap_s` of silence: the whole script, and the utterances."""
    pieces = []
    step = int(seconds * RATE) * 2
    for k in range(count):
        piece = speech[k * step : (k + 1) * step]
        first, last = voiced_span(piece)
        pieces.append(piece[first * 2 : (last + 1) * 2])
    gap = bytes(int(gap_s * RATE) * 2)
    return b"".join(piece + gap for piece in pieces), pieces


def heard_talkspurts(party: Party) -> list[tuple[float, float]]:
    """(first, last) perf_counter time of each run of audible samples the party heard."""
    pcm = np.frombuffer(codecs.decode(Encoding.MULAW, bytes(party.heard)), np.int16)
    loud = np.flatnonzero(np.abs(pcm.astype(np.int32)) > QUIET)
    spans, start = [], 0
    for i in range(1, len(loud) + 1):
        if i == len(loud) or loud[i] - loud[i - 1] > RATE // 2:  # half a second of quiet
            spans.append((loud[start], loud[i - 1]))
            start = i
    tick_at = party.tick_at
    frame = FRAME_BYTES

    def at(sample: int) -> float:
        return tick_at[sample // frame] + (sample % frame) / RATE

    return [(at(first), at(last)) for first, last in spans]


@pytest.mark.parametrize("protocol", ["current", "legacy"])
async def test_every_utterance_is_heard_to_its_last_sample_without_waiting_for_the_next(
    make_stack: StackFactory, customer_speech: bytes, protocol: str
) -> None:
    # Kallglot answers only while the customer speaks, in messages of 760 bytes: not whole
    # 20 ms frames at 8 kHz mu-law (95 ms), nor at 16 kHz PCM (23.75 ms).
    stack = await make_stack(
        kallglot_options={"talkspurts": True, "output_chunk_bytes": 760},
        KALLGLOT_STREAM_PROTOCOL=protocol,
    )
    speech, pieces = utterances(customer_speech, 3, seconds=0.9, gap_s=1.5)
    async with asyncio.timeout(30):
        customer, agent, call = await bridged_call(stack)
        customer.speak(speech)
        await agent.wait_until(lambda: len(heard_talkspurts(agent)) == 3)
        third = heard_talkspurts(agent)[2][0]
        await agent.wait_until(lambda: agent.tick_at[-1] > third + 1.5)  # it has played out
        await customer.hang_up()
        await call.ended()

    spurts = heard_talkspurts(agent)
    assert len(spurts) == 3  # no tail turned up glued to a later utterance
    # Silent frames the cushion added or shed in pauses inside an utterance (a loaded machine
    # builds delay, bridge/audio/cushion.py) lengthen or shorten it by design, 20 ms each.
    leg = call.summary().legs["agent"]
    shed, added = 0.020 * (leg.frames_compacted or 0), 0.020 * (leg.frames_inserted or 0)
    for (first, last), piece in zip(spurts, pieces, strict=True):
        late = (last - first) - len(piece) / 2 / RATE  # > 0: the last sample came after a gap
        assert -0.040 - shed <= late <= 0.040 + added, (protocol, late, shed, added)
    if protocol == "current":  # mu-law passes through: every utterance plays byte for byte
        assert all(mulaw(piece) in bytes(agent.heard) for piece in pieces)
    assert call.summary().legs["agent"].tails_flushed >= 1  # 3 unless one ended on a frame


def onset(speech: bytes) -> bytes:
    """`speech` from its first clearly voiced 20 ms on: the barge-in starts on a word."""
    for i in range(0, len(speech), FRAME_BYTES * 2):
        if audioop.rms(speech[i : i + FRAME_BYTES * 2], 2) > 2000:
            return speech[i:]
    raise AssertionError("no speech in the sample")


async def talk_over(party: Party, speech: bytes, heard_s: float = 1.0) -> float:
    """Once `party` has heard `heard_s` of translation, it starts talking; returns when its
    first voiced frame went out (the carrier tick that sent it)."""
    await party.wait_until(lambda: party.heard_media_bytes > heard_s * RATE)
    ticks = len(party.tick_at)
    said_at = time.perf_counter()
    party.speak(onset(speech))
    await party.wait_until(lambda: len(party.tick_at) > ticks + 1)
    return next(t for t in party.tick_at[ticks:] if t >= said_at)


@pytest.mark.parametrize("carrier_name", CARRIERS)
async def test_barge_in_clear_stops_the_translation_within_100_ms(
    make_stack: StackFactory, customer_speech: bytes, agent_speech: bytes
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(30):
        customer, agent, call = await bridged_call(stack, BARGE_CLEAR)
        customer.speak(customer_speech)
        voiced_at = await talk_over(agent, agent_speech)
        await agent.wait_until(lambda: bool(agent.clears))
        await customer.hang_up()
        await call.ended()

    # Within 100 ms of the voice reaching the bridge (a carrier's larger chunks come later).
    assert agent.clears[0] - voiced_at <= 0.100 + chunk_lag_s(stack.carrier_name)
    assert metric(stack, "bridge_barge_ins_total", policy="clear") == 1
    assert not customer.clears  # the customer never talked over anything


async def test_barge_in_duck_lowers_the_rest_of_the_translation(
    make_stack: StackFactory, agent_speech: bytes
) -> None:
    stack = await make_stack()
    tone = (6000 * np.sin(2 * np.pi * 440 * np.arange(5 * RATE) / RATE)).astype(np.int16)
    async with asyncio.timeout(30):
        customer, agent, call = await bridged_call(stack, BARGE_DUCK)
        customer.speak(tone.tobytes())  # five seconds of a steady "translation"
        voiced_at = await talk_over(agent, agent_speech)
        await agent.wait_until(lambda: agent.tick_at[-1] > voiced_at + 1.0)
        hung_up_at = time.perf_counter()
        await customer.hang_up()
        await call.ended()

    assert all(at > hung_up_at for at in agent.clears)  # only the hang-up's own clear
    assert metric(stack, "bridge_barge_ins_total", policy="duck") == 1
    heard = codecs.decode(Encoding.MULAW, bytes(agent.heard))
    ticks = np.asarray(agent.tick_at)

    def level(start: float, end: float) -> float:
        frames = np.flatnonzero((ticks >= start) & (ticks < end))
        pcm = heard[frames[0] * FRAME_BYTES * 2 : (frames[-1] + 1) * FRAME_BYTES * 2]
        return float(audioop.rms(pcm, 2))

    before, after = level(voiced_at - 0.5, voiced_at), level(voiced_at + 0.5, voiced_at + 1.0)
    assert 0.08 < after / before < 0.18  # -18 dB, give or take the ramp
