"""The stream against the simulator over loopback: round trips, both protocols, drops, tokens."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp.plugin import AiohttpServer

from bridge.audio import MULAW_8K, PCM16_16K, Converter
from bridge.audio.formats import PCM16_8K
from bridge.kallglot.config import KallglotSettings, ProtocolVersion
from bridge.kallglot.connection import HandshakeRefused
from bridge.kallglot.events import AudioOutput, Ended, Reconnected, StreamEvent, StreamFailed
from bridge.kallglot.models import Mode, Session
from bridge.kallglot.rest import KallglotClient
from bridge.kallglot.stream import KallglotStream, State
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.kallglot_translate import OutputShape
from tests.kallglot.support import EventLog, fast_settings, frames, mulaw

Open = Callable[..., Any]


@pytest.fixture
async def open_stream(
    client: KallglotClient, settings: KallglotSettings
) -> AsyncIterator[Callable[..., Any]]:
    """Creates a session and connects a stream to it; closes every stream at the end."""
    streams: list[KallglotStream] = []

    async def make(
        mode: Mode = Mode.BIDIRECTIONAL_TRANSLATION, **overrides: Any
    ) -> tuple[KallglotStream, EventLog]:
        config = dataclasses.replace(settings, **overrides)
        session = await client.create_session(mode, "de", "en")
        stream = KallglotStream(client, session, config)
        streams.append(stream)
        await stream.connect()
        return stream, EventLog(stream)

    yield make
    for stream in streams:
        await stream.close()


def send(stream: KallglotStream, speaker: str, data: bytes, frame: int = 160) -> None:
    for piece in frames(data, frame):
        stream.send_audio(speaker, piece)


async def test_customer_speech_comes_back_to_the_agent_byte_identical(
    open_stream: Open, sim: KallglotSimulator, customer_speech: bytes
) -> None:
    stream, log = await open_stream()
    audio = mulaw(customer_speech)

    send(stream, "customer", audio)
    async with asyncio.timeout(5):
        await stream.close()
        await log.task

    assert stream.input_format == MULAW_8K
    assert log.audio_to("agent") == audio  # the tail shorter than one chunk included
    assert log.audio_to("customer") == b""
    outputs = log.of(AudioOutput)
    assert {(o.speaker, o.target, o.format) for o in outputs} == {("customer", "agent", MULAW_8K)}
    record = sim.sessions[stream.session.id]
    assert bytes(record.received_audio["customer"]) == audio
    assert record.received_chunks["customer"] == -(-len(audio) // 800)  # 100 ms chunks
    assert record.sequences == list(range(1, len(record.sequences) + 1))
    assert isinstance(log.events[-1], Ended)
    assert log.events[-1].reason == "explicit_end"
    assert record.end_reason == "explicit_end"
    assert record.ended_transitions == 1  # socket end and REST safety net: one transition
    assert stream.stats.chunks_sent == len(record.sequences)
    assert stream.stats.bytes_sent == {"customer": len(audio)}


async def test_a_handler_gets_every_event_in_order_instead_of_events(
    open_stream: Open, customer_speech: bytes
) -> None:
    stream, log = await open_stream()
    seen: list[StreamEvent] = []

    def handler(event: StreamEvent) -> None:
        seen.append(event)
        if len(seen) == 1:
            raise RuntimeError("a bug in the owner")  # logged; the reader carries on

    stream.on_event(handler)
    audio = mulaw(customer_speech[:16000])
    send(stream, "customer", audio)
    async with asyncio.timeout(5):
        await stream.close()
        await log.task  # events() still ends with the stream

    assert log.events == []
    assert b"".join(e.data for e in seen if isinstance(e, AudioOutput)) == audio
    assert isinstance(seen[-1], Ended)
    assert sum(isinstance(e, Ended) for e in seen) == 1


async def test_both_parties_are_translated_to_each_other_with_transcripts(
    open_stream: Open, customer_speech: bytes, agent_speech: bytes
) -> None:
    stream, log = await open_stream()
    customer, agent = mulaw(customer_speech), mulaw(agent_speech)

    for a, b in itertools.zip_longest(frames(customer, 160), frames(agent, 160), fillvalue=b""):
        stream.send_audio("customer", a)
        stream.send_audio("agent", b)
    async with asyncio.timeout(5):
        await stream.close()
        await log.task

    assert log.audio_to("agent") == customer
    assert log.audio_to("customer") == agent
    finals = log.transcripts(final=True)
    assert {t.speaker for t in finals} == {"customer", "agent"}
    customer_final = next(t for t in finals if t.speaker == "customer")
    assert customer_final.text.startswith("customer utterance 1 (")
    assert (customer_final.language, customer_final.translation_language) == ("de", "en")
    assert customer_final.translation_text == f"[en] {customer_final.text}"
    assert log.transcripts(final=False)  # partials while speaking


async def test_assistive_mode_returns_only_the_agents_speech(
    open_stream: Open, customer_speech: bytes, agent_speech: bytes
) -> None:
    stream, log = await open_stream(Mode.ASSISTIVE_TRANSLATION)

    send(stream, "customer", mulaw(customer_speech))
    send(stream, "agent", mulaw(agent_speech))
    async with asyncio.timeout(5):
        await stream.close()
        await log.task

    assert log.audio_to("customer") == mulaw(agent_speech)
    assert log.audio_to("agent") == b""
    assert any(t.speaker == "customer" for t in log.transcripts(final=True))


async def test_legacy_protocol_sends_and_receives_pcm16_16k(
    open_stream: Open, sim: KallglotSimulator, customer_speech: bytes
) -> None:
    stream, log = await open_stream(stream_protocol=ProtocolVersion.LEGACY)
    converter = Converter(PCM16_8K, stream.input_format)
    audio = converter.convert(customer_speech) + converter.flush()

    send(stream, "customer", audio, frame=640)
    async with asyncio.timeout(5):
        await stream.close()
        await log.task

    assert stream.input_format == PCM16_16K
    record = sim.sessions[stream.session.id]
    assert record.protocol == "legacy"
    assert record.messages["audio"] > 0
    assert record.messages["end"] == 1
    assert record.received_format["customer"] == PCM16_16K
    assert bytes(record.received_audio["customer"]) == audio
    assert {o.format for o in log.of(AudioOutput)} == {PCM16_16K}
    assert log.audio_to("agent") == audio
    finals = log.transcripts(final=True)
    assert finals
    assert finals[0].translation_text is not None  # OLD: a plain string
    assert finals[0].translation_language is None
    assert record.ended_transitions == 1


@pytest.mark.parametrize(
    "shape",
    [
        OutputShape(type="audio", nested=False, payload_key="data", rate_key="sample_rate"),
        OutputShape(type="translation.audio", nested=False, payload_key="payload"),
        OutputShape(type="audio_output", nested=True, payload_key="data", target_key="listener"),
    ],
    ids=["flat", "translation.audio", "audio_output-listener"],
)
async def test_undocumented_audio_shapes_are_understood_end_to_end(
    open_stream: Open, sim: KallglotSimulator, customer_speech: bytes, shape: OutputShape
) -> None:
    sim.output_shape = shape
    stream, log = await open_stream()
    audio = mulaw(customer_speech)

    send(stream, "customer", audio)
    async with asyncio.timeout(5):
        await stream.close()
        await log.task

    assert log.audio_to("agent") == audio
    assert stream.stats.malformed == 0


async def test_reconnect_after_a_drop_loses_no_input_audio(
    open_stream: Open, sim: KallglotSimulator, customer_speech: bytes
) -> None:
    stream, log = await open_stream()
    audio = mulaw(customer_speech)
    a, b, c = audio[:12000], audio[12000:24000], audio[24000:]
    record = sim.sessions[stream.session.id]

    send(stream, "customer", a)
    async with asyncio.timeout(5):
        await record.wait_received("customer", len(a))
        sim.faults.refuse_reconnects = True  # hold the outage open while B is sent
        await sim.drop_stream(record.id)
        await record.wait_for(lambda r: r.refused_connections >= 1)
        send(stream, "customer", b)  # nowhere to go: buffered
        sim.faults.refuse_reconnects = False
        await log.wait_for(lambda log: bool(log.of(Reconnected)))
        send(stream, "customer", c)
        await stream.close()
        await log.task

    assert bytes(record.received_audio["customer"]) == audio
    assert record.sequences == list(range(1, len(record.sequences) + 1))  # never restarted
    assert record.connections == 2
    assert stream.stats.reconnects == 1
    assert stream.stats.dropped_bytes == 0
    reconnected = log.of(Reconnected)[0]
    assert reconnected.attempts >= 2
    assert log.audio_to("agent") == a + b + c


async def test_the_first_reconnect_attempt_comes_within_250_ms(
    open_stream: Open, sim: KallglotSimulator
) -> None:
    defaults = KallglotSettings()  # production reconnect timing, not the fast test budgets
    stream, log = await open_stream(
        reconnect_first_delay_s=defaults.reconnect_first_delay_s,
        reconnect_max_delay_s=defaults.reconnect_max_delay_s,
    )

    async with asyncio.timeout(5):
        await sim.drop_stream(stream.session.id)
        await log.wait_for(lambda log: bool(log.of(Reconnected)))

    reconnected = log.of(Reconnected)[0]
    assert reconnected.attempts == 1
    assert reconnected.downtime_s < 0.25


async def test_drop_in_mid_stream_loses_nothing(
    open_stream: Open, sim: KallglotSimulator, customer_speech: bytes
) -> None:
    sim.faults.drop_after_s = 0.1  # every connection is closed by the server after 100 ms
    stream, log = await open_stream()
    audio = mulaw(customer_speech)

    async with asyncio.timeout(10):
        for piece in frames(audio, 160):
            stream.send_audio("customer", piece)
            await asyncio.sleep(0.001)  # pacing the sender, not synchronisation
        sim.faults.drop_after_s = None
        await stream.close()
        await log.task

    record = sim.sessions[stream.session.id]
    assert record.connections >= 2
    assert bytes(record.received_audio["customer"]) == audio
    assert record.sequences == list(range(1, len(record.sequences) + 1))


async def test_a_drop_just_before_the_end_still_delivers_the_tail(
    open_stream: Open, sim: KallglotSimulator, customer_speech: bytes
) -> None:
    """The call ends while the stream is reconnecting: the end waits (up to its timeout) for
    the new socket, so the caller's last words, held in the reconnect buffer, still go."""
    stream, log = await open_stream()
    audio = mulaw(customer_speech)[:16000]
    record = sim.sessions[stream.session.id]

    async with asyncio.timeout(10):
        send(stream, "customer", audio[:8000])
        await record.wait_for(lambda r: len(r.received_audio.get("customer", b"")) >= 8000)
        sim.faults.refuse_reconnects = True
        await sim.drop_stream(record.id)
        await record.wait_for(lambda r: r.refused_connections >= 1)  # it is reconnecting
        send(stream, "customer", audio[8000:])  # the last words, into the reconnect buffer
        closing = asyncio.create_task(stream.close())
        sim.faults.refuse_reconnects = False  # the next attempt gets through
        await closing
        await log.task

    assert bytes(record.received_audio["customer"]) == audio
    assert stream.end_confirmed


async def test_outage_longer_than_the_buffer_drops_the_oldest_audio(
    open_stream: Open, sim: KallglotSimulator, customer_speech: bytes
) -> None:
    stream, log = await open_stream(reconnect_buffer_s=0.5)
    audio = mulaw(customer_speech)
    record = sim.sessions[stream.session.id]

    async with asyncio.timeout(5):
        sim.faults.refuse_reconnects = True
        await sim.drop_stream(record.id)
        await record.wait_for(lambda r: r.refused_connections >= 1)
        send(stream, "customer", audio[:16000])  # 2 s into a 0.5 s buffer
        sim.faults.refuse_reconnects = False
        await log.wait_for(lambda log: bool(log.of(Reconnected)))
        await stream.close()
        await log.task

    assert stream.stats.dropped_bytes == 12000
    assert stream.stats.dropped_bytes_by_speaker == {"customer": 12000}
    assert bytes(record.received_audio["customer"]) == audio[12000:16000]  # the newest 0.5 s


async def test_expired_token_is_replaced_with_a_fresh_one_on_reconnect(
    open_stream: Open, sim: KallglotSimulator, customer_speech: bytes
) -> None:
    stream, log = await open_stream()
    old = stream.session.stream
    record = sim.sessions[stream.session.id]

    sim.advance_clock(301)  # the simulator now considers the token expired; our clock does not
    async with asyncio.timeout(5):
        await sim.drop_stream(record.id)
        await log.wait_for(lambda log: bool(log.of(Reconnected)))
        send(stream, "customer", mulaw(customer_speech)[:8000])
        await record.wait_received("customer", 8000)

    assert old is not None
    assert stream.session.stream is not None
    assert stream.session.stream.token != old.token
    assert record.token_refusals == 1  # the old token was tried and refused at the handshake
    assert record.connections == 2


async def test_a_locally_expired_token_is_refreshed_before_connecting(
    client: KallglotClient, settings: KallglotSettings, sim: KallglotSimulator
) -> None:
    session = await client.create_session(Mode.BIDIRECTIONAL_TRANSLATION, "de", "en")
    assert session.stream is not None
    stale = dataclasses.replace(
        session.stream, token="kst_test_stale", expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    stream = KallglotStream(client, dataclasses.replace(session, stream=stale), settings)

    await stream.connect()
    await stream.close()

    assert sim.sessions[session.id].token_refusals == 0
    assert sim.sessions[session.id].connections == 1


async def test_a_refused_token_that_stays_refused_fails_connect(
    client: KallglotClient, settings: KallglotSettings, sim: KallglotSimulator
) -> None:
    session = await client.create_session(Mode.BIDIRECTIONAL_TRANSLATION, "de", "en")
    sim.advance_clock(301)
    sim.token_ttl_s = -1  # every token minted from now on is born expired

    stream = KallglotStream(client, session, settings)
    with pytest.raises(HandshakeRefused) as caught:
        await stream.connect()

    assert caught.value.status == 401
    assert caught.value.code == "expired_token"
    assert stream.state is State.FAILED


async def test_refused_reconnects_end_in_stream_failed(
    open_stream: Open, sim: KallglotSimulator
) -> None:
    # A budget a loaded CI box can make one attempt in: with 0.5 s the first attempt itself
    # sometimes timed out there, and the reason was the timeout instead of the refusal.
    stream, log = await open_stream(reconnect_total_s=2.0)
    sim.faults.refuse_reconnects = True

    async with asyncio.timeout(10):
        await sim.drop_stream(stream.session.id)
        await log.task

    failed = log.events[-1]
    assert isinstance(failed, StreamFailed)
    assert "503" in failed.reason
    assert stream.state is State.FAILED
    stream.send_audio("customer", b"\xff" * 160)  # ignored, not raised
    await stream.close()
    assert sim.sessions[stream.session.id].ended_transitions == 1  # REST end still happens


async def test_a_stalled_server_is_detected_and_the_stream_reconnects(
    open_stream: Open, sim: KallglotSimulator
) -> None:
    stream, log = await open_stream(ping_interval_s=0.1, pong_timeout_s=0.1)
    record = sim.sessions[stream.session.id]

    async with asyncio.timeout(5):
        sim.stall_stream(record.id)
        await log.wait_for(lambda log: bool(log.of(Reconnected)))

    assert stream.stats.stalls == 1
    assert stream.stats.pings_sent >= 1
    assert record.connections == 2


async def test_legacy_keepalive_uses_websocket_pings(
    open_stream: Open, sim: KallglotSimulator
) -> None:
    stream, log = await open_stream(
        stream_protocol=ProtocolVersion.LEGACY, ping_interval_s=0.1, pong_timeout_s=0.1
    )
    record = sim.sessions[stream.session.id]

    async with asyncio.timeout(5):
        sim.stall_stream(record.id)  # no pong frames any more
        await log.wait_for(lambda log: bool(log.of(Reconnected)))

    assert stream.stats.stalls == 1
    assert record.messages["ping"] == 0  # OLD has no ping message


async def test_ending_the_session_over_rest_ends_the_stream(
    open_stream: Open, client: KallglotClient, sim: KallglotSimulator
) -> None:
    stream, log = await open_stream()

    async with asyncio.timeout(5):
        await client.end_session(stream.session.id)
        await log.task

    assert isinstance(log.events[-1], Ended)
    assert log.events[-1].reason == "api_request"
    await stream.close()
    assert sim.sessions[stream.session.id].ended_transitions == 1


async def test_close_is_idempotent_and_concurrent_safe(
    open_stream: Open, sim: KallglotSimulator
) -> None:
    stream, log = await open_stream()

    async with asyncio.timeout(5):
        await asyncio.gather(stream.close(), stream.close())
        await stream.close()

    assert stream.state is State.CLOSED
    assert sim.sessions[stream.session.id].ended_transitions == 1
    assert sum(1 for e in log.events if isinstance(e, Ended)) == 1


async def test_close_never_raises_when_kallglot_is_gone(
    http: aiohttp.ClientSession, aiohttp_server: AiohttpServer, customer_speech: bytes
) -> None:
    sim = KallglotSimulator(translation_delay_s=0)
    server = await aiohttp_server(sim.app())
    settings = fast_settings(
        str(server.make_url("/v1")), sim.api_key, retry_total_s=0.2, reconnect_total_s=0.2
    )
    client = KallglotClient(http, settings)
    session = await client.create_session(Mode.BIDIRECTIONAL_TRANSLATION)
    stream = KallglotStream(client, session, settings)
    await stream.connect()
    log = EventLog(stream)

    await server.close()
    async with asyncio.timeout(5):
        await log.task
        await stream.close()

    assert isinstance(log.events[-1], StreamFailed | Ended)


async def test_transcripts_are_kept_for_the_rest_transcript(
    open_stream: Open, client: KallglotClient, customer_speech: bytes
) -> None:
    stream, log = await open_stream()

    send(stream, "customer", mulaw(customer_speech))
    async with asyncio.timeout(5):
        await stream.close()
    transcript = await client.get_transcript(stream.session.id)

    assert transcript.status == "completed"
    assert [t.text for t in transcript.turns] == [t.text for t in log.transcripts(final=True)]
    assert all(t.translation_language == "en" for t in transcript.turns)


def test_session_repr_hides_the_token() -> None:
    session = Session.from_json(
        {"id": "sess_1", "status": "created", "stream": {"url": "wss://x", "token": "kst_secret"}}
    )
    assert "kst_secret" not in repr(session)
    assert "kst_secret" not in repr(session.stream)
