"""The Vonage simulator against a tiny bridge defined here, which uses the bridge's own Vonage
pieces (signature checks, NCCOs, the media protocol): signed webhooks, NCCOs run as Vonage runs
them, binary media at 8 and 16 kHz, and what Vonage refuses refused with its warning.

Real time: the simulator paces media at 20 ms, so audio is short and every wait is on an event,
guarded by `asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
import pytest
from aiohttp import WSMsgType, web

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.carriers.base import Dtmf, Event, MarkPlayed, Media, Started
from bridge.carriers.interface import AskForDigit, ConnectStream, SayAndHangUp, Speech, StreamTarget
from bridge.carriers.vonage.ncco import answer_ncco
from bridge.carriers.vonage.protocol import BUFFER_FULL, WRONG_FRAME_SIZE, VonageMediaStream
from bridge.carriers.vonage.signature import VonageSignatures
from bridge.sim.softphone import Said
from bridge.sim.vonage import VonageSimulator

CALLER, OUR_NUMBER = "+15550100001", "+15550100009"


@dataclass
class TinyBridge:
    """Answers every call with `answer`, checks every signature, keeps every media event."""

    sim: VonageSimulator
    url: str = ""
    answer: Any = None
    rate: int = 8000
    hooks: list[tuple[str, dict[str, Any], str | None]] = field(default_factory=list)
    upgrades: list[str | None] = field(default_factory=list)
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    streams: list[VonageMediaStream] = field(default_factory=list)

    @property
    def checks(self) -> VonageSignatures:
        return VonageSignatures(self.sim.signature_secret, self.sim.application_id)

    async def voice(self, request: web.Request) -> web.Response:
        body = await request.read()
        refusal = self.checks.refusal(request.headers.get("Authorization"), body, time.time())
        payload = dict(request.query) if request.method == "GET" else json.loads(body)
        self.hooks.append((request.path, payload, refusal))
        if "status" in payload or self.answer is None:
            return web.Response(status=204)
        target = StreamTarget(self.url.replace("http", "ws") + "/vonage/media/c1", {"ticket": "t"})
        answer = self.answer(target) if callable(self.answer) else self.answer
        ncco = answer_ncco(
            answer,
            rate=self.rate,
            event_url=self.url + "/vonage/voice",
            caller_id=OUR_NUMBER,
            call_uuid=payload.get("uuid"),
        )
        return web.json_response(ncco)

    async def media(self, request: web.Request) -> web.WebSocketResponse:
        self.upgrades.append(
            self.checks.refusal(request.headers.get("Authorization"), None, time.time())
        )
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        stream = VonageMediaStream()
        self.sockets.append(ws)
        self.streams.append(stream)
        async for msg in ws:
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                event = stream.parse(msg.data)
                if event is not None:
                    await self.events.put(event)
        return ws

    async def next(self, kind: type[Any]) -> Any:
        while True:
            event = await self.events.get()
            if isinstance(event, kind):
                return event


@pytest.fixture
async def world(aiohttp_server: Any) -> AsyncIterator[TinyBridge]:
    sim = VonageSimulator()
    sim.api_url = str((await aiohttp_server(sim.app)).make_url("")).rstrip("/")
    bridge = TinyBridge(sim)
    app = web.Application()
    app.router.add_route("*", "/vonage/voice", bridge.voice)
    app.router.add_route("*", "/vonage/voice/menu", bridge.voice)
    app.router.add_get("/vonage/media/{call_id}", bridge.media)
    bridge.url = str((await aiohttp_server(app)).make_url("")).rstrip("/")
    sim.answer_url = sim.event_url = bridge.url + "/vonage/voice"
    yield bridge
    await sim.close()


async def test_an_inbound_call_fetches_its_ncco_signed_and_streams_signed(
    world: TinyBridge,
) -> None:
    world.answer = lambda target: ConnectStream(target, Speech("Hallo", "de-DE"))
    async with asyncio.timeout(10):
        call = await world.sim.place_call(CALLER, OUR_NUMBER)
        started = await world.next(Started)
        await call.hang_up()
    assert call.said == [Said("Hallo", "de-DE")]
    answer_path, answer, refusal = world.hooks[2]
    assert (answer_path, answer["to"], answer["from"], refusal) == (
        "/vonage/voice",
        "15550100009",  # Vonage writes numbers without "+"
        "15550100001",
        None,
    )
    assert all(refusal is None for _, _, refusal in world.hooks)  # every webhook signed
    assert world.upgrades == [None]  # and the media handshake too
    assert started.call_id == call.sid
    assert started.custom_parameters["ticket"] == "t"
    assert call.stream_parameters == {"ticket": "t", "call_uuid": call.sid}
    assert call.statuses == ["started", "ringing", "answered", "completed"]


async def test_media_flows_both_ways_notify_echoes_after_its_audio_and_clear_is_answered(
    world: TinyBridge,
) -> None:
    world.answer = ConnectStream
    speech = (np.sin(np.arange(1600) / 5) * 3000).astype("<i2").tobytes()
    async with asyncio.timeout(10):
        call = await world.sim.place_call(CALLER, OUR_NUMBER, audio=speech)
        await world.next(Started)
        stream, ws = world.streams[0], world.sockets[0]
        heard = b"".join([(await world.next(Media)).payload for _ in range(10)])
        assert heard == speech[: len(heard)]  # 8 kHz: what the party said, byte for byte
        tone = bytes(range(64)) * 5  # one 20 ms frame of 8 kHz L16 (320 bytes)
        for _ in range(3):
            await ws.send_bytes(stream.media(tone))
        await ws.send_str(stream.mark("after-3"))
        await world.next(MarkPlayed)
        assert call.heard_media_bytes >= 3 * 160  # the notify came once they had played
        assert codecs.encode(Encoding.MULAW, tone) in bytes(call.heard)
        await ws.send_bytes(bytes(100))  # not a 20 ms frame: refused, with Vonage's warning
        await ws.send_str(stream.clear())
        await call.wait_until(lambda: len(call.clears) == 1 and bool(call.warnings))
        await call.press("5")
        assert await world.next(Dtmf) == Dtmf("5")
        await call.hang_up()
    assert [w.code for w in call.warnings] == [WRONG_FRAME_SIZE]


async def test_more_than_vonages_buffer_is_dropped_and_recorded(world: TinyBridge) -> None:
    world.answer = ConnectStream
    async with asyncio.timeout(10):
        call = await world.sim.place_call(CALLER, OUR_NUMBER)
        await world.next(Started)
        stream, ws = world.streams[0], world.sockets[0]
        for _ in range(1100):  # 22 s of audio at once: Vonage keeps 1024 messages
            await ws.send_bytes(stream.media(bytes(320)))
        await call.wait_until(lambda: call.received_bytes + 160 * len(call.warnings) >= 1100 * 160)
        await call.hang_up()
    assert 70 <= len(call.warnings) <= 76  # a few played meanwhile
    assert {w.code for w in call.warnings} == {BUFFER_FULL}


async def test_at_16_khz_the_party_is_resampled_up_and_heard_at_8(world: TinyBridge) -> None:
    world.answer, world.rate = ConnectStream, 16000
    tone = (np.sin(2 * np.pi * 440 * np.arange(8000) / 8000) * 8000).astype("<i2").tobytes()
    async with asyncio.timeout(10):
        call = await world.sim.place_call(CALLER, OUR_NUMBER, audio=tone)
        started = await world.next(Started)
        frames = [(await world.next(Media)).payload for _ in range(40)]
        stream, ws = world.streams[0], world.sockets[0]
        wide = (np.sin(2 * np.pi * 440 * np.arange(16000) / 16000) * 8000).astype("<i2")
        for i in range(25):
            await ws.send_bytes(stream.media(wide[i * 320 : (i + 1) * 320].tobytes()))
        await call.wait_heard(20 * 160)
        await call.hang_up()
    assert started.media_format.sample_rate == 16000
    assert {len(frame) for frame in frames} == {640}
    said = np.frombuffer(b"".join(frames[10:]), "<i2").astype(float)
    assert 5000 < np.sqrt(np.mean(said**2)) < 6400  # a 8000-peak sine's RMS, 5657, kept
    heard = np.frombuffer(call.heard_pcm(), "<i2").astype(float)
    assert 5000 < np.sqrt(np.mean(heard[heard != 0] ** 2)) < 6400


async def test_the_menu_posts_the_key_and_its_answer_replaces_the_ncco(
    world: TinyBridge,
) -> None:
    menu = world.url + "/vonage/voice/menu"

    def answer(target: StreamTarget) -> object:
        pressed = [p for path, p, _ in world.hooks if path.endswith("/menu")]
        if pressed:
            return SayAndHangUp((Speech(f"you pressed {pressed[-1]['dtmf']['digits']}"),))
        return AskForDigit(Speech("press a key"), menu)

    world.answer = answer
    async with asyncio.timeout(10):
        call = await world.sim.place_call(CALLER, OUR_NUMBER, digits="2")
        await call.ended.wait()
    assert [s.text for s in call.said] == ["press a key", "you pressed 2"]
    assert call.digits_sent == ["2"]
    assert call.status == "completed"


async def test_rest_calls_without_the_applications_jwt_are_refused(world: TinyBridge) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(world.sim.api_url + "/v1/calls", json={}) as response:
            assert response.status == 401
            body = await response.json()
        async with http.put(
            world.sim.api_url + "/v1/calls/x",
            json={"action": "hangup"},
            headers={"Authorization": "Bearer " + world.sim.signer.token(None, time.time())},
        ) as response:  # a webhook token (HS256) is no application JWT (RS256)
            assert response.status == 401
    assert body["title"] == "Unauthorized"
    assert not world.sim.calls
