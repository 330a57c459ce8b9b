"""The carrier simulators' clock: skew (a carrier whose 20 ms are not ours), injected stalls,
and what a stall does to the party's voice and to playback. Real time, about 3 s in all."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bridge.carriers.base import Started
from bridge.sim import carrier_cli
from bridge.sim.carrier import CarrierSimulator
from bridge.sim.softphone import FRAME_BYTES, SILENCE
from bridge.sim.telnyx import TelnyxSimulator
from tests.sim.test_carrier_sim import TinyBridge
from tests.sim.test_telnyx_sim import TinyBridge as TelnyxBridge
from tests.sim.test_telnyx_sim import do_nothing

CALLER, OUR_NUMBER = "+15550100001", "+15550100009"
TONE = b"\x10"  # a mu-law byte that is not silence


@pytest.fixture
async def sim(aiohttp_server: Any) -> AsyncIterator[CarrierSimulator]:
    simulator = CarrierSimulator()
    server: TestServer = await aiohttp_server(simulator.app)
    simulator.api_url = str(server.make_url("")).rstrip("/")
    yield simulator
    await simulator.close()


@pytest.fixture
async def bridge(sim: CarrierSimulator, aiohttp_server: Any) -> TinyBridge:
    tiny = TinyBridge(sim)
    tiny.echo = False
    server: TestServer = await aiohttp_server(tiny.app)
    tiny.base = str(server.make_url("")).rstrip("/")
    return tiny


@pytest.fixture
async def telnyx(aiohttp_server: Any) -> AsyncIterator[tuple[TelnyxSimulator, TelnyxBridge]]:
    simulator = TelnyxSimulator()
    server: TestServer = await aiohttp_server(simulator.app)
    simulator.api_url = str(server.make_url("/v2"))
    tiny = TelnyxBridge(simulator)
    tiny.echo = False
    bridge_server: TestServer = await aiohttp_server(tiny.app)
    tiny.base = str(bridge_server.make_url("")).rstrip("/")
    simulator.webhook_url = tiny.base + "/telnyx/voice"
    yield simulator, tiny
    await simulator.close()
    await tiny.close()


def period(times: Sequence[float]) -> float:
    """Seconds per frame: the least-squares slope of arrival time over frame number (a late
    frame or two barely moves it, unlike first-to-last)."""
    return statistics.linear_regression(range(len(times)), times).slope


async def test_a_fast_carrier_clock_sends_and_plays_more_frames_per_second(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    async with asyncio.timeout(10):
        steady = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        steady_leg = await bridge.legs.get()
        await steady_leg.next(Started)
        sim.clock_ppm = 50_000  # read as a stream starts: the running one keeps its clock
        fast = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        fast_leg = await bridge.legs.get()
        await fast_leg.next(Started)
        await fast.wait_until(lambda: len(fast.tick_at) >= 52)  # about 1 s
        await steady.wait_until(lambda: len(steady.tick_at) >= 50)
        await asyncio.gather(steady.hang_up(), fast.hang_up())

    sent = period([at for at, _ in steady_leg.media]) / period([at for at, _ in fast_leg.media])
    played = period(steady.tick_at) / period(fast.tick_at)
    assert 1.03 < sent < 1.07
    assert 1.03 < played < 1.07
    # Media timestamps are the carrier's own clock: still 20 ms a frame.
    assert [f.timestamp_ms for _, f in fast_leg.media] == [
        20 * i for i in range(len(fast_leg.media))
    ]


async def test_a_stall_is_heard_as_silence_and_delays_queued_audio_by_as_much(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    tone = TONE * 8000  # 1 s
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        leg = await bridge.legs.get()
        await leg.next(Started)
        await leg.send(leg.proto.media(tone))
        await call.wait_heard(10 * FRAME_BYTES)
        sim.stall(call.sid, 0.15)
        await call.wait_heard(len(tone))
        await call.hang_up()

    [(start, length)] = call.stalls
    assert 7 <= length <= 8  # 150 ms of 20 ms ticks, depending on where in a tick it began
    heard = bytes(call.heard)
    first = heard.index(TONE)
    split = start * FRAME_BYTES - first
    assert first % FRAME_BYTES == 0
    assert 10 * FRAME_BYTES <= split < len(tone)
    # Nothing lost, nothing caught up: the rest of the tone plays after the silence.
    expected = tone[:split] + SILENCE * length + tone[split:]
    assert heard[first : first + len(expected)] == expected
    assert call.heard_media_bytes == len(tone)
    assert call.holes == []  # a stall is not the bridge's audio running dry
    queued = call.queued_after_tick
    assert list(queued[start : start + length]) == [queued[start - 1]] * length
    at = call.tick_at
    assert all(a <= b for a, b in itertools.pairwise(at))
    assert at[start + length] - at[start - 1] >= 0.14
    # The party's voice of the frozen ticks went out in one burst when the line resumed.
    arrivals = [t for t, _ in leg.media]
    gap, resume = max((b - a, b) for a, b in itertools.pairwise(arrivals))
    assert gap >= 0.12
    assert length <= sum(resume <= t < resume + 0.02 for t in arrivals) <= length + 2
    assert [f.chunk for _, f in leg.media] == list(range(1, len(leg.media) + 1))


async def test_a_late_event_loop_still_catches_up(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    tone = TONE * 4000  # 500 ms
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        leg = await bridge.legs.get()
        await leg.next(Started)
        await leg.send(leg.proto.media(tone))
        await call.wait_heard(5 * FRAME_BYTES)
        time.sleep(0.1)  # noqa: ASYNC251 - the point: a busy loop, not an injected stall
        await call.wait_heard(len(tone))
        await call.hang_up()

    assert call.stalls == []
    assert tone in bytes(call.heard)  # played through: the line caught up, no silence inside
    assert call.holes == []


async def test_telnyx_streams_run_on_the_simulators_clock_too(
    telnyx: tuple[TelnyxSimulator, TelnyxBridge],
) -> None:
    sim, bridge = telnyx
    sim.clock_ppm = -50_000
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER)
        leg = await bridge.legs.get()
        await leg.next(Started)
        await call.wait_until(lambda: len(call.tick_at) >= 25)
        sim.stall(call.sid, 0.05)
        await call.wait_until(lambda: len(call.stalls) == 1 and len(call.tick_at) >= 30)
        await call.hang_up()

    start, length = call.stalls[0]
    assert 0.0205 < period(call.tick_at[:start]) < 0.0216  # 20 ms / 0.95
    assert 2 <= length <= 3


async def test_a_call_without_a_stream_cannot_stall(
    telnyx: tuple[TelnyxSimulator, TelnyxBridge],
) -> None:
    sim, bridge = telnyx
    bridge.on_event = do_nothing
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER)
        await bridge.wait_event("call.initiated")
        with pytest.raises(RuntimeError, match="no media stream"):
            sim.stall(call.sid, 0.1)
        await call.hang_up()
    with pytest.raises(KeyError):
        sim.stall("v3:nobody", 0.1)


def test_clock_skew_is_validated() -> None:
    sim = CarrierSimulator()
    sim.clock_ppm = -100_000
    assert sim.clock_ppm == -100_000.0
    with pytest.raises(ValueError, match=r"within \+-100000 ppm, got 100001"):
        sim.clock_ppm = 100_001
    with pytest.raises(ValueError, match="ppm"):
        sim.clock_ppm = float("nan")
    assert sim.clock_ppm == -100_000.0


def test_clock_ppm_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    carrier_cli.add_arguments(parser)

    assert parser.parse_args([]).clock_ppm == 0.0
    assert parser.parse_args(["--clock-ppm", "-250.5"]).clock_ppm == -250.5
    for bad in ("200000", "fast"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--clock-ppm", bad])
    errors = capsys.readouterr().err
    assert "within +-100000 ppm, got 200000.0 ppm" in errors
    assert "expected a number of ppm, got 'fast'" in errors
