"""The Exotel simulator against a tiny bridge defined here: the Voicebot applet's URL fetched
with Basic auth, the stream it names opened with Basic auth and run in 100 ms chunks of PCM,
Exotel's checks on what we send, the flow's failure branch, and dials with status callbacks.

Real time: the simulator paces media at 20 ms, so audio is kept short and every wait is on an
event, guarded by `asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.carriers.base import Media, Started, Stopped
from bridge.carriers.exotel.auth import basic_header, stream_url
from bridge.carriers.exotel.protocol import INVALID_MEDIA, MALFORMED_FRAME, ExotelMediaStream
from bridge.carriers.interface import StreamTarget
from bridge.sim.exotel import ExotelSimulator
from bridge.sim.exotel_call import VOICEBOT_FAILED
from bridge.sim.exotel_stream import STREAM_HANDSHAKE_FAILED, read_stream_url
from bridge.sim.softphone import Phone, Said

CALLER, PARTY = "+919800000001", "+15550100002"
TICKET = "k" * 600


@dataclass
class TinyBridge:
    """Answers the applet with a stream URL; records what arrives; plays what a test says."""

    sim: ExotelSimulator
    url: str = ""
    answer_status: int = 200
    sample_rate: int = 8000
    parameters: dict[str, str] = field(default_factory=lambda: {"ticket": TICKET})
    voice_requests: list[tuple[dict[str, str], str | None]] = field(default_factory=list)
    callbacks: list[tuple[dict[str, str], str | None]] = field(default_factory=list)
    upgrades: list[str | None] = field(default_factory=list)
    events: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    sockets: list[tuple[web.WebSocketResponse, ExotelMediaStream]] = field(default_factory=list)

    async def voice(self, request: web.Request) -> web.Response:
        self.voice_requests.append((dict(request.query), request.headers.get("Authorization")))
        if self.answer_status != 200:
            return web.Response(status=self.answer_status, text="cannot render\n")
        target = StreamTarget(self.url.replace("http", "ws") + "/exotel/media/c1", self.parameters)
        sim = self.sim
        url = stream_url(target, sim.webhook_user, sim.webhook_password, self.sample_rate)
        return web.json_response({"url": url})

    async def status(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.callbacks.append((form, request.headers.get("Authorization")))
        return web.Response(status=204)

    async def media(self, request: web.Request) -> web.WebSocketResponse:
        self.upgrades.append(request.headers.get("Authorization"))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        proto = ExotelMediaStream()
        self.sockets.append((ws, proto))
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await self.events.put(proto.parse(msg.data))
        await self.events.put("closed")
        return ws

    async def next_event(self, kind: type) -> Any:
        while True:
            event = await self.events.get()
            if isinstance(event, kind):
                return event


@pytest.fixture
async def bridge(aiohttp_server: Any) -> AsyncIterator[TinyBridge]:
    sim = ExotelSimulator()
    sim.api_url = str((await aiohttp_server(sim.app)).make_url("")).rstrip("/")
    tiny = TinyBridge(sim)
    app = web.Application()
    app.router.add_get("/exotel/voice", tiny.voice)
    app.router.add_post("/exotel/status/c1/agent", tiny.status)
    app.router.add_get("/exotel/media/c1", tiny.media)
    tiny.url = str((await aiohttp_server(app)).make_url("")).rstrip("/")
    sim.voicebot_url = sim.applet_url(tiny.url)
    yield tiny
    await sim.close()


async def test_an_inbound_call_streams_100_ms_chunks_and_ends_when_the_bridge_closes(
    bridge: TinyBridge,
) -> None:
    sim = bridge.sim
    voice = b"\x10\x00" * 4000  # half a second
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, sim.caller_id, audio=voice)
        started = await bridge.next_event(Started)
        media = [await bridge.next_event(Media) for _ in range(5)]
        ws, proto = bridge.sockets[0]
        await ws.send_str(proto.media(b"\x00\x10" * 800))  # 100 ms back
        await ws.send_str(proto.mark("m1"))
        await call.wait_mark("m1")
        await ws.close()
        await call.ended.wait()

    (params, auth), *_ = bridge.voice_requests
    assert auth == basic_header(sim.webhook_user, sim.webhook_password)
    assert (params["CallSid"], params["CallFrom"], params["CallTo"]) == (
        call.sid,
        CALLER,
        sim.caller_id,
    )
    assert params["Direction"] == "inbound"
    assert bridge.upgrades == [auth]  # the stream, too, proves itself with the URL's userinfo
    assert started.call_id == call.sid
    assert started.custom_parameters == {"ticket": TICKET}  # t1..t3 joined back
    assert [len(m.payload) for m in media] == [1600] * 5  # 100 ms of 8 kHz PCM16 each
    assert b"".join(m.payload for m in media)[: len(voice)] == voice
    assert call.heard_media_bytes == 800  # our 100 ms, heard as 8 kHz mu-law
    assert codecs.encode(Encoding.MULAW, b"\x00\x10" * 800) in bytes(call.heard)
    assert (call.closed_by, call.statuses, call.warnings) == (
        "bridge",
        ["in-progress", "completed"],
        [],
    )


async def test_the_party_hanging_up_sends_stop_then_closes(bridge: TinyBridge) -> None:
    async with asyncio.timeout(10):
        call = await bridge.sim.place_call(CALLER, bridge.sim.caller_id)
        await bridge.next_event(Started)
        await call.press("7")
        await call.hang_up()
        await bridge.next_event(Stopped)
        assert await bridge.events.get() == "closed"
    assert call.closed_by == "carrier"
    assert call.digits_sent == ["7"]


async def test_frames_exotel_refuses_are_recorded_and_not_played(bridge: TinyBridge) -> None:
    async with asyncio.timeout(10):
        call = await bridge.sim.place_call(CALLER, bridge.sim.caller_id)
        await bridge.next_event(Started)
        ws, proto = bridge.sockets[0]
        await ws.send_str(proto.media(bytes(160)))  # 10 ms: not a multiple of 320 bytes
        await ws.send_bytes(bytes(320))  # Exotel takes JSON text only
        await call.wait_until(lambda: len(call.warnings) == 2)
        await call.hang_up()
    assert [w.code for w in call.warnings] == [INVALID_MEDIA, MALFORMED_FRAME]
    assert "not a multiple of 320" in call.warnings[0].message
    assert call.received_bytes == 0


@pytest.mark.parametrize(
    ("setup", "warning"),
    [
        ({"answer_status": 422}, "got 422"),
        ({"parameters": {"ticket": "x" * 769}}, None),  # stream_url refuses to build it
        ({"sample_rate": 44100}, "sample-rate '44100'"),
    ],
)
async def test_an_unusable_applet_answer_runs_the_failure_branch(
    bridge: TinyBridge, setup: dict[str, Any], warning: str | None
) -> None:
    for name, value in setup.items():
        setattr(bridge, name, value)
    bridge.sim.failure_greeting = "Please call again later."
    async with asyncio.timeout(10):
        call = await bridge.sim.place_call(CALLER, bridge.sim.caller_id)
        await call.ended.wait()
    assert call.said == [Said("Please call again later.")]
    assert not call.stream_sids
    assert call.statuses == ["in-progress", "completed"]  # the Hangup applet
    assert call.warnings[0].code == VOICEBOT_FAILED
    if warning is not None:
        assert warning in call.warnings[0].message


def test_more_custom_parameters_than_exotel_takes_are_refused() -> None:
    url = stream_url(StreamTarget("ws://h/p", {"ticket": "t" * 700}), "u", "p" * 16, 8000)
    assert not isinstance(read_stream_url(url), str)
    assert "3 at most" in str(read_stream_url(url + "&extra=1"))
    assert "over 256" in str(read_stream_url("ws://h/p?t1=" + "x" * 257))


async def test_a_stream_refused_at_the_handshake_is_recorded(bridge: TinyBridge) -> None:
    bridge.sim.voicebot_url = bridge.url + "/exotel/voice"  # no userinfo: the URL gives none
    bridge.url = bridge.url.replace("127.0.0.1", "127.0.0.1:1", 1)  # a port nobody serves
    async with asyncio.timeout(10):
        call = await bridge.sim.place_call(CALLER, bridge.sim.caller_id)
        await call.ended.wait()
    assert bridge.voice_requests[0][1] is None  # no credentials in the URL, none sent
    assert call.warnings[0].code == STREAM_HANDSHAKE_FAILED


async def test_a_dial_rings_runs_the_flow_and_reports_by_callback(bridge: TinyBridge) -> None:
    sim = bridge.sim
    sim.add_phone(PARTY, Phone(ring_s=0.05))
    form = {
        "From": PARTY,
        "CallerId": sim.caller_id,
        "Url": f"http://my.exotel.com/{sim.account_sid}/exoml/start_voice/{sim.app_id}",
        "CustomField": "field-of-ours",
        "StatusCallback": sim.applet_url(bridge.url).replace("/exotel/voice", "")
        + "/exotel/status/c1/agent",
        "StatusCallbackEvents[0]": "terminal",
        "StatusCallbackEvents[1]": "answered",
        "TimeOut": "5",
    }
    api = f"{sim.api_url}/v1/Accounts/{sim.account_sid}/Calls/connect.json"
    async with asyncio.timeout(10), aiohttp.ClientSession() as http:
        async with http.post(api, data=form) as response:
            assert response.status == 401  # Basic auth with the API key and token
            assert "Authentication" in (await response.json())["RestException"]["Message"]
        headers = {"Authorization": basic_header(sim.api_key, sim.api_token)}
        async with http.post(api, data=form, headers=headers) as response:
            assert response.status == 200
            sid = (await response.json())["Call"]["Sid"]
        call = await sim.next_call(to=PARTY)
        await bridge.next_event(Started)
        await bridge.sockets[0][0].close()  # the Hangup applet runs next
        await call.ended.wait()
    assert call.sid == sid
    assert bridge.voice_requests[0][0]["CustomField"] == "field-of-ours"
    assert [(f["EventType"], f["Status"]) for f, _ in bridge.callbacks] == [
        ("answered", "in-progress"),
        ("terminal", "completed"),
    ]
    assert {auth for _, auth in bridge.callbacks} == {
        basic_header(sim.webhook_user, sim.webhook_password)
    }


@pytest.mark.parametrize(("answer", "outcome"), [("busy", "busy"), ("no-answer", "no-answer")])
async def test_an_unanswered_dial_reports_its_outcome(
    bridge: TinyBridge, answer: Any, outcome: str
) -> None:
    sim = bridge.sim
    sim.add_phone(PARTY, Phone(answer=answer, ring_s=0.05))
    callback = sim.applet_url(bridge.url).replace("/exotel/voice", "/exotel/status/c1/agent")
    async with asyncio.timeout(10):
        call = sim.dial(PARTY, sim.caller_id, "", callback, ("terminal",), 1)
        await call.ended.wait()
    assert call.statuses == ["ringing", outcome]
    assert [(f["EventType"], f["Status"]) for f, _ in bridge.callbacks] == [("terminal", outcome)]
    assert not bridge.voice_requests


async def test_a_16_khz_stream_sends_3200_byte_chunks_and_records_8_khz_mu_law(
    bridge: TinyBridge,
) -> None:
    bridge.sample_rate = 16000
    async with asyncio.timeout(10):
        call = await bridge.sim.place_call(CALLER, bridge.sim.caller_id)
        started = await bridge.next_event(Started)
        chunk = await bridge.next_event(Media)
        ws, proto = bridge.sockets[0]
        for _ in range(4):
            await ws.send_str(proto.media(bytes(3200)))
        # 400 ms, as 8 kHz mu-law: 3200 bytes, less what the resampler still holds (< 100 ms)
        await call.wait_received(2400)
        await call.hang_up()
    assert started.media_format.sample_rate == 16000
    assert len(chunk.payload) == 3200
    assert call.stream_parameters == {"t1": TICKET[:256], "t2": TICKET[256:512], "t3": TICKET[512:]}
