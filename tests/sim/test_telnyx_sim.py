"""The Telnyx simulator against a tiny bridge defined here, driven with the bridge's own Telnyx
REST client and carrier: signed webhooks answered by Call Control commands, a media socket.

Real time: the simulator paces media at 20 ms, so audio is kept short (<= 1 s) and every wait is
on an event, guarded by `asyncio.timeout`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from bridge.audio import codecs
from bridge.audio.formats import ALAW_8K, MULAW_8K, Encoding
from bridge.carriers.base import CarrierWarning, Dtmf, Event, Media, Started, Stopped
from bridge.carriers.interface import (
    CarrierError,
    ConnectStream,
    IncomingCall,
    Speech,
    StreamTarget,
)
from bridge.carriers.telnyx.carrier import TelnyxCarrier, TelnyxControl
from bridge.carriers.telnyx.config import TelnyxSettings
from bridge.carriers.telnyx.protocol import AUTH_TOKEN_FIELD, TelnyxMediaStream
from bridge.carriers.telnyx.rest import TelnyxRest
from bridge.carriers.telnyx.signature import (
    SIGNATURE_HEADER,
    STREAM_TOKEN_HEADER,
    TIMESTAMP_HEADER,
    TelnyxSignatures,
    stream_token,
    stream_token_refusal,
)
from bridge.sim.softphone import Phone, Said
from bridge.sim.telnyx import TelnyxQuirks, TelnyxSimCall, TelnyxSimulator

E = TypeVar("E")
CALLER, OUR_NUMBER, AGENT = "+15550100001", "+15550100009", "+15550100002"
ONE_SECOND = 16000  # bytes of 8 kHz PCM16
PARAMS = {"session": "s_7f3c"}


@dataclass
class Leg:
    """One media socket as the tiny bridge sees it."""

    ws: web.WebSocketResponse
    proto: TelnyxMediaStream = field(default_factory=TelnyxMediaStream)
    events: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    frames: list[dict[str, Any]] = field(default_factory=list)  # every frame, as JSON

    async def next(self, kind: type[E]) -> E:
        while True:
            event = await self.events.get()
            if isinstance(event, kind):
                return event

    @property
    def chunks(self) -> list[int]:
        return [int(f["media"]["chunk"]) for f in self.frames if f["event"] == "media"]


@dataclass(frozen=True)
class Hook:
    """One webhook the tiny bridge received."""

    path: str
    event_type: str
    payload: dict[str, Any]
    refusal: str | None  # why its signature did not verify (None: it did)


OnEvent = Callable[["TinyBridge", Hook], Awaitable[None]]


class TinyBridge:
    """Verifies every webhook, answers it with Call Control commands (`on_event`, run before
    the 200, as the bridge does), checks stream tokens, echoes media back when `echo` is on."""

    def __init__(self, sim: TelnyxSimulator) -> None:
        self.sim = sim
        self.signatures = TelnyxSignatures(sim.public_key)
        self.echo = True
        self.codec = "PCMU"
        self.legs: asyncio.Queue[Leg] = asyncio.Queue()
        self.hooks: list[Hook] = []
        self._arrived = asyncio.Event()
        self.on_event: OnEvent = answer_with_stream
        self.carrier: TelnyxCarrier | None = None  # set: the bridge's carrier answers instead
        self.answer: ConnectStream | None = None
        self.base = ""
        self.rest: TelnyxRest | None = None
        self.app = web.Application()
        self.app.router.add_post("/telnyx/voice", self._webhook)
        self.app.router.add_post("/telnyx/status", self._webhook)
        self.app.router.add_get("/telnyx/media/{name}", self._media)

    @property
    def settings(self) -> TelnyxSettings:
        assert self.sim.api_url is not None
        return TelnyxSettings(
            api_key=self.sim.api_key,
            public_key=self.sim.public_key,
            connection_id=self.sim.connection_id,
            caller_id=CALLER,
            api_url=self.sim.api_url,
            codec=self.codec,
        )

    def control(self) -> TelnyxControl:
        if self.rest is None:
            self.rest = TelnyxRest(self.settings)
        return TelnyxControl(self.rest, self.settings)

    def stream_fields(self, name: str = "c1", **changes: Any) -> dict[str, Any]:
        """What the bridge's carrier sends to stream to /telnyx/media/<name>."""
        url = self.base.replace("http", "ws", 1) + f"/telnyx/media/{name}"
        return self.control().stream_fields(StreamTarget(url, PARAMS)) | changes

    async def command(self, hook: Hook, action: str, fields: dict[str, Any] | None = None) -> None:
        await self.control().rest.action(hook.payload["call_control_id"], action, fields)

    def events(self, path: str = "/telnyx/voice") -> list[str]:
        return [hook.event_type for hook in self.hooks if hook.path == path]

    def hook(self, event_type: str) -> Hook:
        return next(hook for hook in self.hooks if hook.event_type == event_type)

    async def wait_event(self, event_type: str, count: int = 1) -> None:
        while sum(hook.event_type == event_type for hook in self.hooks) < count:
            self._arrived.clear()
            await self._arrived.wait()

    async def close(self) -> None:
        if self.rest is not None:
            await self.rest.close()

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        refusal = self.signatures.refusal(
            body,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(TIMESTAMP_HEADER),
            time.time(),
        )
        data = json.loads(body)["data"]
        hook = Hook(request.path, data["event_type"], data["payload"], refusal)
        self.hooks.append(hook)
        self._arrived.set()
        if refusal is not None:
            pass
        elif self.carrier is not None and self.answer is not None:
            webhook = await self.carrier.read_webhook(request, self.base, "voice")
            if isinstance(webhook, IncomingCall):
                await self.carrier.answer(webhook, self.answer)
        else:
            await self.on_event(self, hook)
        return web.Response(status=200 if refusal is None else 403)

    async def _media(self, request: web.Request) -> web.StreamResponse:
        presented = request.headers.get(STREAM_TOKEN_HEADER)
        if stream_token_refusal(self.sim.api_key, request.path, presented) is not None:
            return web.Response(status=403)
        leg = Leg(web.WebSocketResponse())
        await leg.ws.prepare(request)
        self.legs.put_nowait(leg)
        try:
            async for msg in leg.ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                leg.frames.append(json.loads(msg.data))
                event = leg.proto.parse(msg.data)
                if event is not None:
                    leg.events.put_nowait(event)
                if isinstance(event, Media) and self.echo:
                    await leg.ws.send_str(leg.proto.media(event.payload))
        finally:  # the test server cancels the handler of a connection that was lost
            leg.closed.set()
        return leg.ws


async def answer_with_stream(bridge: TinyBridge, hook: Hook) -> None:
    """The bridge's plain answer: `answer` with the stream's fields (rtp mode)."""
    if hook.event_type == "call.initiated" and hook.payload["direction"] == "incoming":
        await bridge.command(hook, "answer", bridge.stream_fields())


async def do_nothing(bridge: TinyBridge, hook: Hook) -> None:
    return None


@pytest.fixture
async def sim(aiohttp_server: Any) -> AsyncIterator[TelnyxSimulator]:
    simulator = TelnyxSimulator()
    server: TestServer = await aiohttp_server(simulator.app)
    simulator.api_url = str(server.make_url("/v2"))
    yield simulator
    await simulator.close()


@pytest.fixture
async def bridge(sim: TelnyxSimulator, aiohttp_server: Any) -> AsyncIterator[TinyBridge]:
    tiny = TinyBridge(sim)
    server: TestServer = await aiohttp_server(tiny.app)
    tiny.base = str(server.make_url("")).rstrip("/")
    sim.webhook_url = tiny.base + "/telnyx/voice"
    yield tiny
    await tiny.close()


def mulaw(pcm: bytes) -> bytes:
    return codecs.encode(Encoding.MULAW, pcm)


def received(call: TelnyxSimCall) -> bytes:
    """Everything the bridge sent the party, in order (as mu-law, whatever the codec)."""
    return b"".join(media.payload for media in call.media_received)


def all_verified(bridge: TinyBridge, call: TelnyxSimCall) -> bool:
    """Every webhook verified, and each was acknowledged with a 200."""
    delivered = [record.http_status for record in call.webhooks]
    return all(h.refusal is None for h in bridge.hooks) and set(delivered) == {200}


async def test_inbound_call_streams_both_ways_and_hangs_up(
    sim: TelnyxSimulator, bridge: TinyBridge, customer_speech: bytes
) -> None:
    speech = customer_speech[:ONE_SECOND]
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, audio=speech)
        leg = await bridge.legs.get()
        started = await leg.next(Started)
        await call.wait_heard(len(speech) // 2 + 160)  # the last frame waits for the next
        await bridge.command(bridge.hook("call.initiated"), "hangup")
        await leg.next(Stopped)
        await leg.closed.wait()
        await call.ended.wait()
        with pytest.raises(CarrierError) as again:
            await bridge.command(bridge.hook("call.initiated"), "hangup")
        await bridge.control().hang_up(call.sid)  # the bridge's hang-up takes 90018 as done

    assert (again.value.status, again.value.code) == (422, "90018")
    assert started.call_id == call.sid
    assert call.sid.startswith("v3:")
    assert dict(started.custom_parameters) == PARAMS == call.stream_parameters
    assert started.media_format == MULAW_8K
    assert leg.frames[0] == {
        "event": "connected",
        "version": "1.0.0",
        AUTH_TOKEN_FIELD: stream_token(sim.api_key, "/telnyx/media/c1"),
    }
    said = mulaw(speech)
    assert said in received(call)  # nothing lost, back in order
    assert leg.proto.late_frames == 0
    # A held frame is a 20 ms gap on the line, so the echo plays in runs between the swaps.
    runs = (said[: 24 * 160], said[24 * 160 : 49 * 160], said[49 * 160 :])
    assert all(run in bytes(call.heard) for run in runs)
    chunks = leg.chunks
    assert chunks[23:26] == [24, 26, 25]  # the quirk: every 25th frame comes after the next
    assert sorted(chunks) == list(range(1, len(chunks) + 1))
    assert bridge.events() == [
        "call.initiated",
        "call.answered",
        "streaming.started",
        "streaming.stopped",
        "call.hangup",
    ]
    first, hangup = bridge.hook("call.initiated").payload, bridge.hook("call.hangup").payload
    assert (first["direction"], first["from"], first["to"]) == ("incoming", CALLER, OUR_NUMBER)
    assert first["connection_id"] == sim.connection_id
    assert first["state"] == "parked"
    assert (hangup["hangup_cause"], hangup["state"]) == ("normal_clearing", "hangup")
    assert call.hangup_cause == "normal_clearing"
    assert call.api_updates == ["answer", "hangup"]
    assert call.statuses == ["initiated", "answered", "hangup"]
    assert call.closed_by == "carrier"
    assert call.warnings == []
    assert all_verified(bridge, call)


async def test_the_bridges_carrier_greets_then_streams(
    sim: TelnyxSimulator, bridge: TinyBridge
) -> None:
    """The real TelnyxCarrier answers: `answer`, `speak` with the next step in client_state,
    and on `call.speak.ended` the `streaming_start` that state asked for."""
    carrier = TelnyxCarrier(bridge.settings)
    url = bridge.stream_fields("call_77")["stream_url"]
    greeting = Speech("Willkommen bei Kallglot", "de-DE", "female")
    bridge.carrier, bridge.answer = carrier, ConnectStream(StreamTarget(url, PARAMS), greeting)
    try:
        async with asyncio.timeout(10):
            call = await sim.place_call(CALLER, OUR_NUMBER)
            leg = await bridge.legs.get()
            started = await leg.next(Started)
            await call.hang_up()
            await leg.next(Stopped)
    finally:
        await carrier.control.close()
    assert call.said == [Said("Willkommen bei Kallglot", "de-DE", "female")]
    assert call.api_updates == ["answer", "speak", "streaming_start"]
    ended = bridge.hook("call.speak.ended").payload
    assert ended["status"] == "completed"
    assert ended["client_state"] == bridge.hook("call.speak.started").payload["client_state"]
    assert started.custom_parameters["session"] == "s_7f3c"
    assert bridge.events()[:5] == [
        "call.initiated",
        "call.answered",
        "call.speak.started",
        "call.speak.ended",
        "streaming.started",
    ]
    assert bridge.hook("call.hangup").payload["hangup_source"] == "caller"
    assert all_verified(bridge, call)


async def test_speak_reports_its_own_client_state(sim: TelnyxSimulator, bridge: TinyBridge) -> None:
    async def speak_twice(tiny: TinyBridge, hook: Hook) -> None:
        if hook.event_type == "call.initiated":
            await tiny.command(hook, "answer", {"client_state": "YW5zd2Vy"})
            for text, state in (("One", "b25l"), ("Two", "dHdv")):
                fields = {"payload": text, "voice": "female", "language": "en-US"}
                await tiny.command(hook, "speak", fields | {"client_state": state})
        elif hook.event_type == "call.speak.ended" and hook.payload["client_state"] == "dHdv":
            await tiny.command(hook, "hangup")

    bridge.on_event = speak_twice
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER)
        await call.ended.wait()
    assert call.said == [Said("One", "en-US", "female"), Said("Two", "en-US", "female")]
    ended = [h.payload["client_state"] for h in bridge.hooks if h.event_type == "call.speak.ended"]
    assert ended == ["b25l", "dHdv"]
    assert bridge.hook("call.answered").payload["client_state"] == "YW5zd2Vy"
    assert not call.stream_started.is_set()


async def test_gather_gets_the_callers_digits(sim: TelnyxSimulator, bridge: TinyBridge) -> None:
    bridge.on_event = gather_then_hang_up(timeout_millis=2000)
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, digits="2")
        await call.ended.wait()
    gathered = bridge.hook("call.gather.ended").payload
    assert (gathered["digits"], gathered["status"]) == ("2", "valid")
    assert (gathered["from"], gathered["to"], gathered["client_state"]) == (
        CALLER,
        OUR_NUMBER,
        "bWVudQ==",
    )
    assert call.digits_sent == ["2"]
    assert call.said == [Said("Press 1 or 2", "en-US", "female")]
    assert "call.dtmf.received" in bridge.events()
    assert call.api_updates == ["answer", "gather_using_speak", "hangup"]


async def test_gather_without_keys_times_out_with_no_digits(
    sim: TelnyxSimulator, bridge: TinyBridge
) -> None:
    bridge.on_event = gather_then_hang_up(timeout_millis=200)
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER)
        started = time.monotonic()
        await bridge.wait_event("call.gather.ended")
        waited = time.monotonic() - started
        await call.ended.wait()
    gathered = bridge.hook("call.gather.ended").payload
    assert (gathered["digits"], gathered["status"]) == ("", "timeout")
    assert 0.2 <= waited < 1.5
    assert call.digits_sent == []


def gather_then_hang_up(timeout_millis: int) -> OnEvent:
    async def handle(bridge: TinyBridge, hook: Hook) -> None:
        if hook.event_type == "call.initiated":
            await bridge.command(hook, "answer")
            fields = {
                "payload": "Press 1 or 2",
                "voice": "female",
                "language": "en-US",
                "minimum_digits": 1,
                "maximum_digits": 1,
                "timeout_millis": timeout_millis,
                "valid_digits": "0123456789*#",
                "client_state": "bWVudQ==",
            }
            await bridge.command(hook, "gather_using_speak", fields)
        elif hook.event_type == "call.gather.ended":
            await bridge.command(hook, "hangup")

    return handle


async def test_outbound_dial_streams_the_callee_and_events_go_to_its_url(
    sim: TelnyxSimulator, bridge: TinyBridge, agent_speech: bytes
) -> None:
    speech = agent_speech[: ONE_SECOND // 2]
    sim.add_phone(AGENT, Phone(ring_s=0.05, audio=speech))
    bridge.on_event = do_nothing
    control = bridge.control()
    stream = StreamTarget(bridge.stream_fields("c2")["stream_url"], {"role": "agent"})
    async with asyncio.timeout(10):
        ccid = await control.dial(AGENT, CALLER, stream, bridge.base + "/telnyx/status", 30)
        call = await sim.next_call(AGENT)
        leg = await bridge.legs.get()
        started = await leg.next(Started)
        await call.wait_heard(len(speech) // 2)
        await control.hang_up(ccid)
        await leg.next(Stopped)
        await call.ended.wait()
        await control.hang_up(ccid)  # again: already ended, still fine
    assert call.sid == ccid == started.call_id
    assert dict(started.custom_parameters) == {"role": "agent"}
    assert mulaw(speech) in received(call)
    assert bridge.events("/telnyx/voice") == []
    assert bridge.events("/telnyx/status") == [
        "call.initiated",
        "call.answered",
        "streaming.started",
        "streaming.stopped",
        "call.hangup",
    ]
    initiated = bridge.hook("call.initiated").payload
    assert (initiated["direction"], initiated["state"]) == ("outgoing", "bridging")
    assert bridge.hook("call.hangup").payload["hangup_cause"] == "normal_clearing"
    assert all_verified(bridge, call)


@pytest.mark.parametrize(
    ("phone", "cause"),
    [
        (Phone(answer="busy", ring_s=0.05), "user_busy"),
        (Phone(answer="no-answer", ring_s=0.1), "timeout"),
        (Phone(answer="failed", ring_s=0.05), "unspecified"),
        (None, "not_found"),
    ],
)
async def test_unanswered_dials_end_with_telnyx_causes(
    sim: TelnyxSimulator, bridge: TinyBridge, phone: Phone | None, cause: str
) -> None:
    if phone is not None:
        sim.add_phone(AGENT, phone)
    bridge.on_event = do_nothing
    stream = StreamTarget(bridge.stream_fields()["stream_url"])
    async with asyncio.timeout(10):
        await bridge.control().dial(AGENT, CALLER, stream, bridge.base + "/telnyx/status", 30)
        call = await sim.next_call()
        await call.ended.wait()
    assert bridge.events("/telnyx/status") == ["call.initiated", "call.hangup"]
    assert bridge.hook("call.hangup").payload["hangup_cause"] == cause == call.hangup_cause
    assert not call.answered.is_set()
    assert bridge.legs.empty()


async def test_a_dial_hung_up_while_ringing_is_cancelled(
    sim: TelnyxSimulator, bridge: TinyBridge
) -> None:
    sim.add_phone(AGENT, Phone(ring_s=5))
    bridge.on_event = do_nothing
    stream = StreamTarget(bridge.stream_fields()["stream_url"])
    control = bridge.control()
    async with asyncio.timeout(10):
        ccid = await control.dial(AGENT, CALLER, stream, bridge.base + "/telnyx/status", 30)
        call = await sim.next_call()
        await bridge.wait_event("call.initiated")
        await control.hang_up(ccid)
        await call.ended.wait()
    assert bridge.hook("call.hangup").payload["hangup_cause"] == "originator_cancel"


@pytest.mark.parametrize("drops", [True, False])
async def test_mp3_mode_drops_raw_audio_unless_the_quirk_is_off(
    sim: TelnyxSimulator, bridge: TinyBridge, customer_speech: bytes, drops: bool
) -> None:
    sim.quirks = TelnyxQuirks(mp3_drops_audio=drops)
    speech = customer_speech[: ONE_SECOND // 4]

    async def answer_mp3(tiny: TinyBridge, hook: Hook) -> None:
        if hook.event_type == "call.initiated":
            fields = tiny.stream_fields()
            del fields["stream_bidirectional_mode"]  # Telnyx's default: mp3
            await tiny.command(hook, "answer", fields)

    bridge.on_event = answer_mp3
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, audio=speech)
        leg = await bridge.legs.get()
        await leg.next(Started)
        if drops:
            await call.wait_until(lambda: len(call.warnings) >= len(speech) // 320)
        else:
            await call.wait_heard(len(speech) // 2)
        await call.hang_up()
    if drops:
        assert call.heard_media_bytes == 0
        assert call.media_received == []
        assert {w.code for w in call.warnings} == {100004}
        assert "mp3 bidirectional mode" in call.warnings[0].message
        assert not [e for e in drain(leg) if isinstance(e, CarrierWarning)]  # silently
    else:
        assert mulaw(speech) in bytes(call.heard)
        assert call.warnings == []


def drain(leg: Leg) -> list[Event]:
    events = []
    while not leg.events.empty():
        events.append(leg.events.get_nowait())
    return events


async def test_pcma_streams_a_law_both_ways_and_quirks_can_be_off(
    sim: TelnyxSimulator, bridge: TinyBridge, customer_speech: bytes
) -> None:
    sim.quirks = TelnyxQuirks(swap_every=0)
    bridge.codec = "PCMA"
    speech = customer_speech[: ONE_SECOND // 2]
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, audio=speech)
        leg = await bridge.legs.get()
        started = await leg.next(Started)
        await call.wait_heard(len(speech) // 2)
        await call.hang_up()
    assert started.media_format == ALAW_8K
    first = next(f for f in leg.frames if f["event"] == "media")
    assert first["media"]["track"] == "inbound"
    assert leg.chunks == list(range(1, len(leg.chunks) + 1))  # in order: no swaps
    through_alaw = codecs.decode(Encoding.ALAW, codecs.encode(Encoding.ALAW, speech))
    assert mulaw(through_alaw) in bytes(call.heard)  # heard is recorded as mu-law


async def test_drop_stream_ends_the_socket_without_stop_and_the_call_stays_up(
    sim: TelnyxSimulator, bridge: TinyBridge
) -> None:
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER)
        leg = await bridge.legs.get()
        await leg.next(Started)
        call.drop_stream()
        await leg.closed.wait()
        await call.stream_ended.wait()
        assert call.live  # closing the media socket does not end a Telnyx call
        assert not call.ended.is_set()
        await call.hang_up()
    assert not [e for e in drain(leg) if isinstance(e, Stopped)]
    assert bridge.events()[-2:] == ["streaming.stopped", "call.hangup"]


async def test_streaming_stop_and_refused_frames_and_dtmf(
    sim: TelnyxSimulator, bridge: TinyBridge
) -> None:
    bridge.echo = False
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, hangup_after_s=5)
        leg = await bridge.legs.get()
        await leg.next(Started)
        await leg.ws.send_str("not json")
        warning = await leg.next(CarrierWarning)
        await call.press("5")
        assert (await leg.next(Dtmf)).digit == "5"
        await bridge.command(bridge.hook("call.initiated"), "streaming_stop")
        await leg.next(Stopped)
        await leg.closed.wait()
        await bridge.wait_event("streaming.stopped")
        assert call.live
        await call.hang_up()
    assert warning.code == "100003"
    assert [w.code for w in call.warnings] == [100003]
    assert call.digits_sent == ["5"]
    assert bridge.hook("call.dtmf.received").payload["digit"] == "5"
    assert call.api_updates == ["answer", "streaming_stop"]
    assert bridge.hook("call.hangup").payload["hangup_source"] == "caller"


async def test_transfer_ends_our_leg_and_a_repeated_command_id_runs_once(
    sim: TelnyxSimulator, bridge: TinyBridge
) -> None:
    async def speak_twice_then_transfer(tiny: TinyBridge, hook: Hook) -> None:
        if hook.event_type == "call.initiated":
            await tiny.command(hook, "answer")
            fields = {"payload": "Hold on", "voice": "female", "command_id": "same"}
            await tiny.command(hook, "speak", fields)
            await tiny.command(hook, "speak", fields)  # a retry: acknowledged, not repeated
            await tiny.command(hook, "transfer", {"to": "+15550100077"})

    bridge.on_event = speak_twice_then_transfer
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER)
        await call.ended.wait()
    assert call.transfers == ["+15550100077"]
    assert call.api_updates == ["answer", "speak", "transfer"]
    assert call.hangup_cause == "normal_clearing"
    assert bridge.hook("call.speak.ended").payload["status"] == "call_hangup"


async def test_party_hanging_up_ends_the_stream_and_reports_the_caller(
    sim: TelnyxSimulator, bridge: TinyBridge
) -> None:
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER, hangup_after_s=0.2)
        leg = await bridge.legs.get()
        await leg.next(Stopped)
        await call.ended.wait()
    hangup = bridge.hook("call.hangup").payload
    assert (hangup["hangup_cause"], hangup["hangup_source"]) == ("normal_clearing", "caller")
    assert call.closed_by == "carrier"


async def test_rest_refuses_bad_keys_unknown_calls_and_bad_fields(
    sim: TelnyxSimulator, bridge: TinyBridge
) -> None:
    wrong_key = TelnyxRest(
        TelnyxSettings("KEYwrong", sim.public_key, sim.connection_id, CALLER, str(sim.api_url))
    )
    wrong_app = TelnyxRest(
        TelnyxSettings(sim.api_key, sim.public_key, "42", CALLER, str(sim.api_url))
    )
    rest = bridge.control().rest
    try:
        with pytest.raises(CarrierError) as unauthorised:
            await wrong_key.dial(AGENT, CALLER, {})
        with pytest.raises(CarrierError) as unknown:
            await rest.action("v3:nope", "speak", {"payload": "Hi", "voice": "female"})
        await rest.hang_up("v3:nope")  # unknown: the bridge takes 404 as already over
        with pytest.raises(CarrierError) as wrong_connection:
            await wrong_app.dial(AGENT, CALLER, {})
        with pytest.raises(CarrierError) as bad_codec:
            await rest.dial(AGENT, CALLER, bridge.stream_fields(stream_codec="G722"))
        with pytest.raises(CarrierError) as not_e164:
            await rest.dial("5550100", CALLER, {})
    finally:
        await wrong_key.close()
        await wrong_app.close()
    assert (unauthorised.value.status, unauthorised.value.code) == (401, "10009")
    assert (unknown.value.status, unknown.value.code) == (404, "10005")
    assert (wrong_connection.value.status, wrong_connection.value.code) == (422, "10015")
    assert sim.connection_id in str(wrong_connection.value)
    assert bad_codec.value.status == 422
    assert "PCMU or PCMA" in str(bad_codec.value)
    assert (not_e164.value.status, not_e164.value.code) == (422, "10016")
    assert sim.calls == {}


async def test_hangup_of_an_ended_call_is_200_with_the_quirk_off(
    sim: TelnyxSimulator, bridge: TinyBridge
) -> None:
    sim.quirks = TelnyxQuirks(hangup_ended_is_422=False)
    bridge.on_event = do_nothing
    async with asyncio.timeout(10):
        call = await sim.place_call(CALLER, OUR_NUMBER)
        await bridge.wait_event("call.initiated")
        rest = bridge.control().rest
        await rest.action(call.sid, "hangup")
        await call.ended.wait()
        await rest.action(call.sid, "hangup")  # no 422 now
        with pytest.raises(CarrierError) as speak:
            await rest.action(call.sid, "speak", {"payload": "Hi", "voice": "female"})
    assert (speak.value.status, speak.value.code) == (422, "90018")


async def test_close_ends_live_streams_and_leaves_no_tasks(aiohttp_server: Any) -> None:
    simulator = TelnyxSimulator()
    api_url = await simulator.start()
    tiny = TinyBridge(simulator)
    server: TestServer = await aiohttp_server(tiny.app)
    tiny.base = str(server.make_url("")).rstrip("/")
    simulator.webhook_url = tiny.base + "/telnyx/voice"
    before = asyncio.all_tasks()
    try:
        async with asyncio.timeout(10):
            assert api_url == simulator.api_url
            assert api_url.endswith("/v2")
            call = await simulator.place_call(CALLER, OUR_NUMBER)
            leg = await tiny.legs.get()
            await leg.next(Started)
            await tiny.close()  # the bridge's REST session, before its tasks are counted
            await simulator.close()
            await leg.next(Stopped)
            await leg.closed.wait()
    finally:
        await tiny.close()
    assert call.ended.is_set()
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []
    with pytest.raises(RuntimeError, match="closed"):
        await simulator.place_call(CALLER, OUR_NUMBER)
