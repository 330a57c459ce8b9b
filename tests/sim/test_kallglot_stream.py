"""The simulator's stream endpoint, spoken to with a raw WebSocket client."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient
from pytest_aiohttp.plugin import AiohttpClient

from bridge.audio import MULAW_8K, PCM16_16K, AudioFormat
from bridge.audio.formats import ALAW_8K, PCM16_8K
from bridge.kallglot.messages import wire_name
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.kallglot_state import SessionRecord

KEY = "sk_test_sim"
WS_TIMEOUT = aiohttp.ClientWSTimeout(ws_receive=5)  # a missing message fails fast
Http = TestClient[Any, Any]
Ws = aiohttp.ClientWebSocketResponse
Connect = Callable[..., Awaitable[tuple[Ws, SessionRecord]]]


@pytest.fixture
def sim() -> KallglotSimulator:
    return KallglotSimulator(api_key=KEY, translation_delay_s=0)


@pytest.fixture
async def http(aiohttp_client: AiohttpClient, sim: KallglotSimulator) -> Http:
    return await aiohttp_client(sim.app())


async def new_session(http: Http, mode: str = "bidirectional_translation") -> dict[str, Any]:
    response = await http.post(
        "/v1/sessions",
        json={"mode": mode, "source_language": "de", "target_language": "en"},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    return dict(await response.json())


@pytest.fixture
def connect(http: Http, sim: KallglotSimulator) -> Connect:
    async def open_(mode: str = "bidirectional_translation") -> tuple[Ws, SessionRecord]:
        session = await new_session(http, mode)
        ws = await http.ws_connect(
            f"/v1/sessions/{session['id']}/connect?token={session['stream']['token']}",
            timeout=WS_TIMEOUT,
        )
        ready = await ws.receive_json()
        assert ready == {"type": "session.ready", "session_id": session["id"]}
        return ws, sim.sessions[session["id"]]

    return open_


def audio_input(
    speaker: str, data: bytes, sequence: int, fmt: AudioFormat = MULAW_8K
) -> dict[str, Any]:
    return {
        "type": "audio.input",
        "sequence": sequence,
        "timestamp_ms": 0,
        "speaker": speaker,
        "audio": {
            "encoding": wire_name(fmt),
            "sample_rate_hz": fmt.sample_rate,
            "payload": base64.b64encode(data).decode(),
        },
    }


def legacy_audio(data: bytes, fmt: AudioFormat, speaker: str = "customer") -> dict[str, Any]:
    return {
        "type": "audio",
        "speaker": speaker,
        "data": base64.b64encode(data).decode(),
        "encoding": wire_name(fmt),
        "sample_rate": fmt.sample_rate,
        "channels": 1,
    }


async def next_of(ws: Ws, mtype: str) -> dict[str, Any]:
    while True:
        message = await ws.receive_json()
        if message["type"] == mtype:
            return dict(message)


async def test_each_chunk_comes_back_to_the_other_party_in_order(connect: Connect) -> None:
    ws, record = await connect()
    chunks = [bytes([n]) * 800 for n in range(1, 6)]

    for n, chunk in enumerate(chunks, 1):
        await ws.send_json(audio_input("customer", chunk, n))
    outputs = [await next_of(ws, "audio.output") for _ in chunks]

    assert [base64.b64decode(o["audio"]["payload"]) for o in outputs] == chunks
    assert [o["sequence"] for o in outputs] == [1, 2, 3, 4, 5]
    assert {(o["speaker"], o["target"]) for o in outputs} == {("customer", "agent")}
    assert {(o["audio"]["encoding"], o["audio"]["sample_rate_hz"]) for o in outputs} == {
        ("mulaw", 8000)
    }
    assert bytes(record.received_audio["customer"]) == b"".join(chunks)
    assert record.sequences == [1, 2, 3, 4, 5]
    assert record.status == "active"


async def test_assistive_mode_returns_only_agent_audio(connect: Connect) -> None:
    ws, record = await connect("assistive_translation")

    await ws.send_json(audio_input("customer", b"\x10" * 800, 1))
    await ws.send_json(audio_input("agent", b"\x20" * 800, 2))
    output = await next_of(ws, "audio.output")

    assert (output["speaker"], output["target"]) == ("agent", "customer")
    assert record.sent_audio == {"customer": bytearray(b"\x20" * 800)}


async def test_ping_gets_pong_with_the_session_id(connect: Connect) -> None:
    ws, record = await connect()

    await ws.send_json({"type": "ping"})

    assert await ws.receive_json() == {"type": "pong", "session_id": record.id}


@pytest.mark.parametrize(
    "audio",
    [
        {"encoding": "pcm_16", "sample_rate_hz": 16000, "payload": "AAAA"},
        {"encoding": "mulaw", "sample_rate_hz": 16000, "payload": "AAAA"},
        {"encoding": "mulaw", "sample_rate_hz": 8000, "payload": "@@@"},
        {"encoding": "mulaw", "sample_rate_hz": 8000},
        "not an object",
    ],
)
async def test_anything_but_mulaw_8k_is_refused(connect: Connect, audio: Any) -> None:
    ws, record = await connect()

    await ws.send_json(
        {"type": "audio.input", "sequence": 1, "speaker": "customer", "audio": audio}
    )
    error = await ws.receive_json()

    assert error["type"] == "session.error"
    assert error["code"] == "invalid_audio_format"
    assert record.received_audio == {}
    await ws.send_json({"type": "ping"})  # the session carries on
    assert (await ws.receive_json())["type"] == "pong"


@pytest.mark.parametrize("fmt", [PCM16_16K, PCM16_8K, MULAW_8K, ALAW_8K])
async def test_legacy_audio_is_accepted_in_old_formats_and_answered_in_pcm16_16k(
    connect: Connect, fmt: AudioFormat
) -> None:
    ws, record = await connect()
    data = bytes(fmt.bytes_for_ms(100))

    await ws.send_json(legacy_audio(data, fmt))
    await ws.send_json({"type": "end"})
    messages = []
    while (message := await ws.receive()).type is WSMsgType.TEXT:
        messages.append(json.loads(message.data))

    assert record.protocol == "legacy"
    assert record.received_format["customer"] == fmt
    outputs = [m for m in messages if m["type"] == "audio"]  # OLD clients get the flat shape
    assert {(o["encoding"], o["sample_rate"]) for o in outputs} == {("pcm_16", 16000)}
    returned = b"".join(base64.b64decode(o["data"]) for o in outputs)
    if fmt == PCM16_16K:
        assert returned == data  # identity: the same samples
    else:
        assert abs(len(returned) - PCM16_16K.bytes_for_ms(100)) <= 64  # resampled, all of it
    assert messages[-1] == {
        "type": "session.ended",
        "session_id": record.id,
        "reason": "explicit_end",
    }


async def test_legacy_audio_in_unsupported_formats_is_refused(connect: Connect) -> None:
    ws, _ = await connect()

    await ws.send_json({**legacy_audio(b"\x00" * 480, PCM16_16K), "sample_rate": 24000})

    assert (await ws.receive_json())["code"] == "invalid_audio_format"


async def test_session_end_ends_once_and_closes_1000(
    connect: Connect, http: Http, sim: KallglotSimulator
) -> None:
    ws, record = await connect()

    await ws.send_json({"type": "session.end"})
    ended = await ws.receive_json()
    closing = await ws.receive()
    rest = await http.post(f"/v1/sessions/{record.id}/end", headers={"X-API-Key": KEY})

    assert ended == {"type": "session.ended", "session_id": record.id, "reason": "explicit_end"}
    assert closing.type is WSMsgType.CLOSE
    assert ws.close_code == 1000
    assert rest.status == 200
    assert record.ended_transitions == 1
    assert record.end_reason == "explicit_end"


async def test_rest_end_while_streaming_sends_session_ended(connect: Connect, http: Http) -> None:
    ws, record = await connect()

    await http.post(f"/v1/sessions/{record.id}/end", headers={"X-API-Key": KEY})

    assert await ws.receive_json() == {
        "type": "session.ended",
        "session_id": record.id,
        "reason": "api_request",
    }
    assert (await ws.receive()).type is WSMsgType.CLOSE
    assert ws.close_code == 1000


@pytest.mark.parametrize(
    ("token", "code"), [("kst_test_forged", "invalid_token"), (None, "invalid_token")]
)
async def test_bad_tokens_are_refused_at_the_handshake(
    http: Http, token: str | None, code: str
) -> None:
    session = await new_session(http)
    query = f"?token={token}" if token else ""

    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await http.ws_connect(f"/v1/sessions/{session['id']}/connect{query}")

    assert caught.value.status == 401
    response = await http.get(f"/v1/sessions/{session['id']}/connect{query}")
    assert (await response.json())["error"]["code"] == code


async def test_expired_tokens_are_refused_and_open_sockets_survive_expiry(
    http: Http, sim: KallglotSimulator
) -> None:
    session = await new_session(http)
    url = f"/v1/sessions/{session['id']}/connect?token={session['stream']['token']}"
    ws = await http.ws_connect(url, timeout=WS_TIMEOUT)
    await ws.receive_json()

    sim.advance_clock(300)
    response = await http.get(url)
    await ws.send_json({"type": "ping"})

    assert response.status == 401
    body = await response.json()
    assert (body["error"]["type"], body["error"]["code"]) == (
        "authentication_error",
        "expired_token",
    )
    assert (await ws.receive_json())["type"] == "pong"  # checked at connect only
    assert sim.sessions[session["id"]].token_refusals == 1


async def test_the_token_ttl_is_configurable(aiohttp_client: AiohttpClient) -> None:
    sim = KallglotSimulator(api_key=KEY, token_ttl_s=10)
    http = await aiohttp_client(sim.app())
    session = await new_session(http)

    sim.advance_clock(10)

    assert sim.token_problem(session["stream"]["token"], session["id"]) == "expired_token"


async def test_a_bearer_header_works_like_the_query_token(http: Http) -> None:
    session = await new_session(http)

    ws = await http.ws_connect(
        f"/v1/sessions/{session['id']}/connect",
        timeout=WS_TIMEOUT,
        headers={"Authorization": f"Bearer {session['stream']['token']}"},
    )

    assert (await ws.receive_json())["type"] == "session.ready"


async def test_refuse_reconnects_refuses_the_second_connect(
    connect: Connect, http: Http, sim: KallglotSimulator
) -> None:
    _, record = await connect()
    sim.faults.refuse_reconnects = True
    token = sim.session_json(record)["stream"]["token"]

    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await http.ws_connect(f"/v1/sessions/{record.id}/connect?token={token}")

    assert caught.value.status == 503
    assert record.refused_connections == 1


async def test_drop_closes_with_1012_and_keeps_what_was_in_flight(
    connect: Connect, sim: KallglotSimulator
) -> None:
    ws, record = await connect()

    drop = asyncio.create_task(sim.drop_stream(record.id))
    # Sent before this client has read the server's close frame: a graceful server still
    # receives them, so the simulator records them (but no longer answers).
    await ws.send_json(audio_input("customer", b"\x01" * 800, 1))
    await ws.send_json(audio_input("customer", b"\x02" * 800, 2))
    while (await ws.receive()).type is WSMsgType.TEXT:
        pass
    await drop

    assert ws.close_code == 1012
    assert bytes(record.received_audio["customer"]) == b"\x01" * 800 + b"\x02" * 800
    assert record.id not in sim.live


async def test_drop_after_seconds(aiohttp_client: AiohttpClient) -> None:
    sim = KallglotSimulator(api_key=KEY)
    sim.faults.drop_after_s = 0.05
    http = await aiohttp_client(sim.app())
    session = await new_session(http)
    ws = await http.ws_connect(
        f"/v1/sessions/{session['id']}/connect?token={session['stream']['token']}",
        timeout=WS_TIMEOUT,
    )

    started = time.monotonic()
    async with asyncio.timeout(2):
        while (await ws.receive()).type is WSMsgType.TEXT:
            pass

    assert time.monotonic() - started >= 0.04
    assert ws.close_code == 1012


async def test_a_stalled_stream_stays_open_and_silent(
    connect: Connect, sim: KallglotSimulator
) -> None:
    ws, record = await connect()
    sim.stall_stream(record.id)

    await ws.send_json({"type": "ping"})
    await ws.send_json(audio_input("customer", b"\x01" * 800, 1))
    with pytest.raises(TimeoutError):
        await ws.receive(timeout=0.2)

    assert not ws.closed
    assert record.received_audio == {}


async def test_translation_delay_is_applied(aiohttp_client: AiohttpClient) -> None:
    sim = KallglotSimulator(api_key=KEY, translation_delay_s=0.2)
    http = await aiohttp_client(sim.app())
    session = await new_session(http)
    ws = await http.ws_connect(
        f"/v1/sessions/{session['id']}/connect?token={session['stream']['token']}",
        timeout=WS_TIMEOUT,
    )
    await ws.receive_json()

    sent = time.monotonic()
    await ws.send_json(audio_input("agent", b"\x33" * 800, 1))
    output = await next_of(ws, "audio.output")

    assert time.monotonic() - sent >= 0.2
    assert output["target"] == "customer"


async def test_pending_translations_are_flushed_before_session_ended(
    aiohttp_client: AiohttpClient,
) -> None:
    sim = KallglotSimulator(api_key=KEY, translation_delay_s=5)
    http = await aiohttp_client(sim.app())
    session = await new_session(http)
    ws = await http.ws_connect(
        f"/v1/sessions/{session['id']}/connect?token={session['stream']['token']}",
        timeout=WS_TIMEOUT,
    )
    await ws.receive_json()

    await ws.send_json(audio_input("agent", b"\xff" * 800, 1))  # silence: no transcript
    await ws.send_json({"type": "session.end"})
    types = [(await ws.receive_json())["type"] for _ in range(2)]

    assert types == ["audio.output", "session.ended"]


async def test_malformed_and_unknown_messages_get_session_errors(connect: Connect) -> None:
    ws, record = await connect()

    await ws.send_str("{nope")
    await ws.send_json({"type": "control", "action": "mute"})
    await ws.send_bytes(b"\x00")
    await ws.send_json({**audio_input("customer", b"\x01", 1), "speaker": "narrator"})

    codes = [(await ws.receive_json())["code"] for _ in range(4)]
    assert codes == [
        "invalid_message",
        "unknown_message_type",
        "invalid_message",
        "invalid_audio_format",
    ]
    assert record.errors_sent == codes


def test_a_float_sample_rate_is_refused_with_a_reason_not_a_crash() -> None:
    from bridge.sim.kallglot_stream import _read_audio

    message = {
        "type": "audio.input",
        "speaker": "customer",
        "audio": {"encoding": "mulaw", "sample_rate_hz": 8000.0, "payload": "/w=="},
    }
    assert _read_audio(message, legacy=False) == "sample rate must be an integer number of Hz"
    legacy = {
        "type": "audio",
        "speaker": "agent",
        "encoding": "pcm_16",
        "sample_rate": 16000.0,
        "data": "AAA=",
    }
    assert _read_audio(legacy, legacy=True) == "sample rate must be an integer number of Hz"
