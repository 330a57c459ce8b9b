"""The Twilio simulator against a tiny bridge defined here: signed webhooks, a media socket.

Real time: the simulator paces media at 20 ms, so audio is kept short (<= 1 s) and every wait is
on an event, guarded by `asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.carriers.base import Dtmf, Event, MarkPlayed, Media, Started, Stopped
from bridge.carriers.twilio import (
    SIGNATURE_HEADER,
    TwilioMediaStream,
    TwilioSignatures,
    connect_stream_twiml,
    language_menu_twiml,
    public_ws_url,
    say_hangup_twiml,
)
from bridge.carriers.twilio.config import TwilioSettings
from bridge.carriers.twilio.rest import TwilioRest
from bridge.carriers.twilio.twiml import Speech
from bridge.sim.carrier import CarrierSimulator, Phone
from bridge.sim.softphone_record import CallEnded
from bridge.sim.twiml_exec import APPLICATION_ERROR

E = TypeVar("E")
CALLER, OUR_NUMBER = "+15550100001", "+15550100009"
ONE_SECOND = 16000  # bytes of 8 kHz PCM16


@dataclass
class Leg:
    """One media socket as the tiny bridge sees it."""

    ws: web.WebSocketResponse
    proto: TwilioMediaStream = field(default_factory=TwilioMediaStream)
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    media: list[tuple[float, Media]] = field(default_factory=list)  # arrival time, frame

    async def next(self, kind: type[E]) -> E:
        while True:
            event = await self.events.get()
            if isinstance(event, kind):
                return event

    async def send(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)


class TinyBridge:
    """Checks every signature, answers with TwiML, echoes media back when `echo` is on."""

    def __init__(self, sim: CarrierSimulator) -> None:
        self.signatures = TwilioSignatures(sim.auth_token)
        self.media_signatures = self.signatures
        self.echo = True
        self.legs: asyncio.Queue[Leg] = asyncio.Queue()
        self.callbacks: list[tuple[bool, dict[str, str]]] = []
        self.menu_digits: list[str] = []
        self.voice: Callable[[TinyBridge], str] = lambda bridge: connect_stream_twiml(
            bridge.ws_url, {"session": "s_7f3c"}
        )
        self.base = ""
        self.app = web.Application()
        self.app.router.add_post("/voice", self._voice)
        self.app.router.add_get("/media", self._media)
        self.app.router.add_post("/status", self._status)
        self.app.router.add_post("/menu", self._menu)

    @property
    def ws_url(self) -> str:
        return public_ws_url(self.base, "/media")

    async def _signed_form(self, request: web.Request) -> dict[str, str]:
        form = await request.post()
        signature = request.headers.get(SIGNATURE_HEADER)
        if not self.signatures.validate_webhook(str(request.url), form, signature):
            raise web.HTTPForbidden()
        return {key: str(value) for key, value in form.items()}

    async def _voice(self, request: web.Request) -> web.Response:
        await self._signed_form(request)
        return web.Response(text=self.voice(self), content_type="text/xml")

    async def _menu(self, request: web.Request) -> web.Response:
        form = await self._signed_form(request)
        self.menu_digits.append(form.get("Digits", ""))
        return web.Response(
            text=say_hangup_twiml(Speech(f"You chose {form.get('Digits')}", "en-US")),
            content_type="text/xml",
        )

    async def _status(self, request: web.Request) -> web.Response:
        form = await request.post()
        valid = self.signatures.validate_webhook(
            str(request.url), form, request.headers.get(SIGNATURE_HEADER)
        )
        self.callbacks.append((valid, {key: str(value) for key, value in form.items()}))
        return web.Response(status=204)

    async def _media(self, request: web.Request) -> web.StreamResponse:
        url = public_ws_url(f"{request.scheme}://{request.host}", request.path)
        if not self.media_signatures.validate_upgrade(url, request.headers.get(SIGNATURE_HEADER)):
            return web.Response(status=403)
        leg = Leg(web.WebSocketResponse())
        await leg.ws.prepare(request)
        self.legs.put_nowait(leg)
        async for msg in leg.ws:
            if msg.type is WSMsgType.TEXT:
                event = leg.proto.parse(msg.data)
                if event is not None:
                    leg.events.put_nowait(event)
                if isinstance(event, Media):
                    leg.media.append((time.perf_counter(), event))
                    if self.echo:
                        await leg.ws.send_str(leg.proto.media(event.payload))
        leg.closed.set()
        return leg.ws


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
    server: TestServer = await aiohttp_server(tiny.app)
    tiny.base = str(server.make_url("")).rstrip("/")
    return tiny


def mulaw(pcm: bytes) -> bytes:
    return codecs.encode(Encoding.MULAW, pcm)


async def test_caller_hears_own_audio_echoed_in_order(
    sim: CarrierSimulator, bridge: TinyBridge, customer_speech: bytes
) -> None:
    speech = customer_speech[:ONE_SECOND]
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice", audio=speech)
        leg = await bridge.legs.get()
        started = await leg.next(Started)
        await call.wait_heard(len(speech) // 2)
        await call.hang_up()
        await leg.next(Stopped)
        await leg.closed.wait()

    assert started.call_id == call.sid
    assert started.account_id == sim.account_sid
    assert dict(started.custom_parameters) == {"session": "s_7f3c"}
    assert started.stream_id == call.stream_sids[0]
    assert call.stream_parameters == {"session": "s_7f3c"}
    assert mulaw(speech) in bytes(call.heard)  # nothing lost, nothing reordered
    assert len(call.heard) % 160 == 0
    assert call.statuses == ["ringing", "in-progress", "completed"]
    assert call.closed_by == "carrier"
    assert call.warnings == []
    assert call.start_to_first_media_s is not None
    assert 0 <= call.start_to_first_media_s < 0.5
    assert call.heard_wav()[:4] == b"RIFF"
    assert call.ended.is_set()
    # Paced like a phone line: 20 ms frames on an absolute schedule, counters as documented.
    frames = [frame for _, frame in leg.media]
    assert [f.chunk for f in frames] == list(range(1, len(frames) + 1))
    assert [f.timestamp_ms for f in frames] == [20 * i for i in range(len(frames))]
    assert {len(f.payload) for f in frames} == {160}
    span = leg.media[-1][0] - leg.media[0][0]
    assert 0.018 < span / (len(frames) - 1) < 0.023


async def test_marks_echo_after_playback_and_clear_flushes(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    bridge.echo = False
    tone = b"\x10" * 3200  # 400 ms of mu-law that is not silence
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        leg = await bridge.legs.get()
        await leg.next(Started)
        await leg.send(leg.proto.mark("idle"))  # nothing queued: echoed at once
        assert (await leg.next(MarkPlayed)).name == "idle"

        await leg.send(leg.proto.media(tone))
        await leg.send(leg.proto.mark("first"))
        await leg.send(leg.proto.media(tone))
        await leg.send(leg.proto.mark("second"))
        sent_at = asyncio.get_running_loop().time()
        assert (await leg.next(MarkPlayed)).name == "first"
        first_after = asyncio.get_running_loop().time() - sent_at
        assert call.heard_media_bytes >= len(tone)
        await leg.send(leg.proto.clear())
        assert (await leg.next(MarkPlayed)).name == "second"  # pending mark returned by clear
        await call.wait_until(lambda: len(call.clears) == 1)
        played = call.heard_media_bytes
        await call.hang_up()

    assert 0.35 <= first_after < 0.8
    assert len(tone) <= played < 2 * len(tone)  # the second half was dropped, not played
    assert call.marks_received == ["idle", "first", "second"]
    assert call.marks_echoed == ["idle", "first", "second"]
    assert bytes(call.heard).count(b"\x10") == played


async def test_invalid_frames_are_dropped_with_twilio_warnings(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    bridge.echo = False
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        leg = await bridge.legs.get()
        started = await leg.next(Started)
        await leg.send(b"\x00\x01")
        await leg.send('{"event": "media", "streamSid": "MZwrong", "media": {"payload": "AAAA"}}')
        await leg.send(f'{{"event": "dance", "streamSid": "{started.stream_id}"}}')
        await leg.send("not json")
        await call.wait_until(lambda: len(call.warnings) == 4)
        await call.hang_up()
    assert [w.code for w in call.warnings] == [31950, 31951, 31951, 31951]
    assert call.media_received == []


async def test_bridge_closing_the_socket_runs_the_rest_of_the_twiml(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    bridge.voice = lambda b: (
        "<Response><Connect><Stream url='" + b.ws_url + "'/></Connect>"
        "<Say language='en-US'>Goodbye</Say><Hangup/></Response>"
    )
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        leg = await bridge.legs.get()
        await leg.next(Started)
        await leg.ws.close(code=4000, message=b"done here")
        await call.ended.wait()
    assert call.closed_by == "bridge"
    assert (call.close_code, call.close_reason) == (4000, "done here")
    assert [s.text for s in call.said] == ["Goodbye"]
    assert call.status == "completed"


async def test_party_hangs_up_after_script_and_callbacks_are_signed(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    async with asyncio.timeout(10):
        call = await sim.place_call(
            CALLER,
            OUR_NUMBER,
            bridge.base + "/voice",
            hangup_after_s=0.3,
            status_callback=bridge.base + "/status",
            status_events=("ringing", "answered", "completed"),
        )
        leg = await bridge.legs.get()
        await leg.next(Stopped)
        await call.ended.wait()
    assert call.closed_by == "carrier"
    assert [valid for valid, _ in bridge.callbacks] == [True, True, True]
    sent = [params for _, params in bridge.callbacks]
    assert [p["CallStatus"] for p in sent] == ["ringing", "in-progress", "completed"]
    assert [p["SequenceNumber"] for p in sent] == ["0", "1", "2"]
    assert int(sent[-1]["CallDuration"]) >= 1  # whole seconds, rounded up
    assert {p["CallSid"] for p in sent} == {call.sid}
    assert sent[0]["Direction"] == "inbound"


async def test_webhook_signed_with_another_token_is_refused(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    forger = CarrierSimulator(account_sid=sim.account_sid, auth_token="not-the-token")
    try:
        async with asyncio.timeout(10):
            call = await forger.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
            await call.ended.wait()
    finally:
        await forger.close()
    assert [w.code for w in call.warnings] == [11200]  # the bridge answered 403
    assert [s.text for s in call.said] == [APPLICATION_ERROR]
    assert bridge.legs.empty()


async def test_forged_upgrade_is_refused_and_the_twiml_moves_on(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    bridge.media_signatures = TwilioSignatures("not-the-token")
    bridge.voice = lambda b: (
        f"<Response><Connect><Stream url='{b.ws_url}'/></Connect><Say>After</Say></Response>"
    )
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        await call.ended.wait()
    assert [(w.code, w.message) for w in call.warnings] == [
        (31920, "stream handshake got HTTP 403")
    ]
    assert [s.text for s in call.said] == ["After"]
    assert not call.stream_started.is_set()


async def test_gather_posts_digits_and_runs_the_answer(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    bridge.voice = lambda b: language_menu_twiml(
        [Speech("Für Deutsch drücken Sie 1", "de-DE"), Speech("For English press 2", "en-US")],
        b.base + "/menu",
        timeout_s=1,
        no_input=[Speech("No choice", "en-US")],
    )
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice", digits="2")
        await call.ended.wait()
    assert call.digits_sent == ["2"]
    assert bridge.menu_digits == ["2"]
    assert [s.text for s in call.said] == [
        "Für Deutsch drücken Sie 1",
        "For English press 2",
        "You chose 2",
    ]
    assert call.said[0].language == "de-DE"


async def test_gather_without_digits_falls_through_after_timeout(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    bridge.voice = lambda b: language_menu_twiml(
        [Speech("Press 1", "en-US")], b.base + "/menu", timeout_s=1, no_input=[Speech("Bye")]
    )
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        await call.ended.wait()
    assert call.digits_sent == []
    assert bridge.menu_digits == []
    assert [s.text for s in call.said] == ["Press 1", "Bye"]


async def test_waiting_on_an_ended_call_fails_fast(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    bridge.voice = lambda b: say_hangup_twiml(Speech("Closed today"))
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        with pytest.raises(CallEnded):
            await call.wait_heard(1)
    assert call.status == "completed"


async def test_dtmf_pressed_during_a_stream_reaches_the_bridge(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        leg = await bridge.legs.get()
        await call.stream_started.wait()
        await call.press("7#")
        assert (await leg.next(Dtmf)).digit == "7"
        assert (await leg.next(Dtmf)).digit == "#"
        await call.hang_up()
    assert call.digits_sent == ["7", "#"]


def rest_for(sim: CarrierSimulator) -> TwilioRest:
    assert sim.api_url is not None
    return TwilioRest(TwilioSettings(sim.account_sid, sim.auth_token, CALLER, sim.api_url))


async def test_rest_twiml_update_aborts_the_stream_and_says_the_apology(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    rest = rest_for(sim)
    try:
        async with asyncio.timeout(10):
            call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
            leg = await bridge.legs.get()
            await leg.next(Started)
            await rest.update_twiml(call.sid, say_hangup_twiml(Speech("Sorry, goodbye", "en-US")))
            await leg.next(Stopped)
            await leg.closed.wait()
            await call.ended.wait()
    finally:
        await rest.close()
    assert call.closed_by == "carrier"
    assert [s.text for s in call.said] == ["Sorry, goodbye"]
    assert call.statuses[-1] == "completed"


async def test_outbound_call_streams_the_callee_and_rest_hangs_up(
    sim: CarrierSimulator, bridge: TinyBridge, agent_speech: bytes
) -> None:
    speech = agent_speech[: ONE_SECOND // 2]
    sim.add_phone("+15550100002", Phone(ring_s=0.05, audio=speech))
    rest = rest_for(sim)
    try:
        async with asyncio.timeout(10):
            sid = await rest.create_call(
                "+15550100002",
                CALLER,
                connect_stream_twiml(bridge.ws_url, {"role": "agent"}),
                bridge.base + "/status",
            )
            call = await sim.next_call("+15550100002")
            leg = await bridge.legs.get()
            started = await leg.next(Started)
            await call.wait_heard(len(speech) // 2)
            await rest.hangup(sid)
            await leg.next(Stopped)
            await call.ended.wait()
            await rest.hangup(sid)  # again: already ended, still fine
    finally:
        await rest.close()
    assert call.sid == sid == started.call_id
    assert dict(started.custom_parameters) == {"role": "agent"}
    assert mulaw(speech) in bytes(call.heard)
    assert [p["CallStatus"] for _, p in bridge.callbacks] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert all(valid for valid, _ in bridge.callbacks)


async def test_redirect_and_url_documents_are_fetched_signed(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    bridge.voice = lambda b: "<Response><Redirect>/menu</Redirect></Response>"
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        await call.ended.wait()
    assert bridge.menu_digits == [""]  # the relative redirect reached /menu, signature valid
    assert [s.text for s in call.said] == ["You chose None"]


async def test_close_ends_live_streams_and_leaves_no_tasks(aiohttp_server: Any) -> None:
    simulator = CarrierSimulator()
    tiny = TinyBridge(simulator)
    server: TestServer = await aiohttp_server(tiny.app)
    tiny.base = str(server.make_url("")).rstrip("/")
    before = asyncio.all_tasks()
    async with asyncio.timeout(10):
        call = await simulator.place_call(CALLER, OUR_NUMBER, tiny.base + "/voice")
        leg = await tiny.legs.get()
        await leg.next(Started)
        await simulator.close()
        await leg.next(Stopped)
        await leg.closed.wait()
    assert call.ended.is_set()
    assert call.status_callbacks == []
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []
    with pytest.raises(RuntimeError, match="closed"):
        await simulator.place_call(CALLER, OUR_NUMBER, tiny.base + "/voice")


async def test_stream_url_scheme_and_query_are_checked_like_twilio(
    sim: CarrierSimulator, bridge: TinyBridge
) -> None:
    bridge.voice = lambda b: (
        "<Response>"
        f"<Connect><Stream url='{b.base}/media'/></Connect>"
        f"<Connect><Stream url='{b.ws_url}?ticket=t'/></Connect>"
        "</Response>"
    )
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, bridge.base + "/voice")
        await call.ended.wait()
    assert [w.code for w in call.warnings] == [31922, 31923, 31920]
