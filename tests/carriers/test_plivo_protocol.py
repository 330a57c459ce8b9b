"""Plivo audio streams, both ends, and the ticket's trip through `extraHeaders`."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from bridge.audio.formats import MULAW_8K, PCM16_8K, PCM16_16K, AudioFormat
from bridge.calls.model import Direction, Mode, Role
from bridge.calls.tickets import Ticket, issue, verify
from bridge.carriers.base import (
    ClearAudio,
    Dtmf,
    MarkPlayed,
    Media,
    PlaceMark,
    PlayAudio,
    ProtocolViolation,
    Started,
    StreamNotStarted,
)
from bridge.carriers.plivo import extra_headers
from bridge.carriers.plivo.protocol import (
    INVALID_FRAME,
    WRONG_AUDIO,
    PlivoCarrierSide,
    PlivoMediaStream,
)

SECRET = b"s" * 32
STREAM, CALL, ACCOUNT = str(uuid.uuid4()), str(uuid.uuid4()), "MAXXXXXXXXXXXXXXXXX1"


def ticket(**overrides: object) -> str:
    fields: dict[str, object] = {
        "call_id": "call_" + "a" * 24,
        "role": Role.AGENT,
        "direction": Direction.INBOUND,
        "mode": Mode.BIDIRECTIONAL,
        "customer_language": "de",
        "agent_language": "en",
        "expires_at": 2_000_000_000,
        "route": "+15550100001",
        "agent": "+15550100002",
        "customer_carrier": "plivo",
        "agent_carrier": "plivo",
    } | overrides
    return issue(Ticket(**fields), SECRET)  # type: ignore[arg-type]


def started(
    audio: AudioFormat = MULAW_8K, headers: dict[str, str] | None = None
) -> tuple[PlivoMediaStream, PlivoCarrierSide, Started]:
    stream, side = PlivoMediaStream(audio), PlivoCarrierSide(STREAM, CALL, ACCOUNT, audio)
    event = stream.parse(side.start(headers or {}))
    assert isinstance(event, Started)
    return stream, side, event


def test_a_ticket_rides_extra_headers_as_letters_and_digits_and_comes_back_exact() -> None:
    token = ticket(carrier_call_id=str(uuid.uuid4()))
    request_id = str(uuid.uuid4())
    rendered = extra_headers.render({"ticket": token}, request_id)
    assert len(rendered) <= 512
    assert all(pair.partition("=")[2].isalnum() for pair in rendered.split(","))
    headers = dict(pair.split("=", 1) for pair in rendered.split(","))
    stream, _, event = started(headers=headers)
    assert event.custom_parameters == {"ticket": token}
    assert (
        verify(event.custom_parameters["ticket"], SECRET, call_id="call_" + "a" * 24, now=0).role
        is Role.AGENT
    )
    # A dialled leg is known by its request id; the live call's CallUUID is kept beside it.
    assert (event.call_id, stream.call_uuid, stream.request_id) == (request_id, CALL, request_id)


def test_a_ticket_that_cannot_fit_is_refused_with_the_numbers() -> None:
    with pytest.raises(extra_headers.TicketTooLong, match=r"take \d+ bytes .* hold 512"):
        extra_headers.render({"ticket": ticket(agent="sip:" + "a" * 400 + "@example.com")})
    with pytest.raises(ValueError, match="not a call ticket"):
        extra_headers.render({"ticket": "no dot here"})


def test_a_mangled_ticket_reaches_the_ticket_check_as_sent() -> None:
    _, _, event = started(headers={"ticket": "zz" * 10, "requestid": "!"})
    assert event.custom_parameters == {"ticket": "zz" * 10}
    assert event.call_id == CALL


def test_carrier_frames_become_events() -> None:
    stream, side, event = started()
    assert (event.stream_id, event.account_id, event.media_format) == (STREAM, ACCOUNT, MULAW_8K)
    assert stream.parse(side.media(b"\x01" * 160)) == Media(b"\x01" * 160, 20, 1)
    assert stream.parse(side.dtmf("7")) == Dtmf("7")
    assert stream.parse(side.played("m1")) == MarkPlayed("m1")
    assert stream.parse(side.cleared()) is None
    assert stream.parse('{"event": "somethingNew", "sequenceNumber": "9"}') is None
    string_counters = {
        "event": "media",
        "sequenceNumber": "4",
        "streamId": STREAM,
        "media": {
            "track": "inbound",
            "timestamp": "60",
            "chunk": "3",
            "payload": base64.b64encode(b"ab").decode(),
        },
    }
    assert stream.parse(json.dumps(string_counters)) == Media(b"ab", 60, 3)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\x00", "binary frame"),
        ('{"event": "media", "streamId": "other", "media": {"payload": ""}}', "another streamId"),
        ('{"event": "media", "media": {"payload": "!!"}}', "not base64"),
        ('{"event": "dtmf", "dtmf": {"digit": "x"}}', "dtmf digit"),
        ('{"event": "start", "start": {}}', "second start"),
        ('{"event": "media", "sequenceNumber": -1, "media": {}}', "sequenceNumber"),
    ],
)
def test_malformed_frames_are_protocol_violations(frame: str | bytes, reason: str) -> None:
    stream, _, _ = started()
    with pytest.raises(ProtocolViolation, match=reason):
        stream.parse(frame)


def test_media_before_start_and_a_second_start_are_refused() -> None:
    stream, side = PlivoMediaStream(MULAW_8K), PlivoCarrierSide(STREAM, CALL, ACCOUNT, MULAW_8K)
    with pytest.raises(ProtocolViolation, match="before start"):
        stream.parse(side.media(bytes(160)))
    with pytest.raises(StreamNotStarted):
        stream.media(bytes(160))
    stream.parse(side.start({}))
    with pytest.raises(ProtocolViolation, match="second start"):
        stream.parse(side.start({}))


def test_a_stream_in_another_format_than_asked_is_refused_naming_the_setting() -> None:
    stream = PlivoMediaStream(MULAW_8K)
    side = PlivoCarrierSide(STREAM, CALL, ACCOUNT, PCM16_16K)
    with pytest.raises(ProtocolViolation, match="PLIVO_CONTENT_TYPE"):
        stream.parse(side.start({}))


@pytest.mark.parametrize("audio", [MULAW_8K, PCM16_8K, PCM16_16K])
def test_what_the_bridge_sends_is_what_plivo_takes(audio: AudioFormat) -> None:
    stream, side, _ = started(audio)
    payload = bytes(range(256)) * 2
    assert side.parse(stream.media(payload)) == PlayAudio(payload)
    frame = json.loads(stream.media(payload))
    assert frame["media"]["sampleRate"] == audio.sample_rate
    assert side.parse(stream.mark("utt-3")) == PlaceMark("utt-3")
    assert json.loads(stream.mark("utt-3")) == {
        "event": "checkpoint",
        "streamId": STREAM,
        "name": "utt-3",
    }
    assert side.parse(stream.clear()) == ClearAudio()
    assert json.loads(stream.clear()) == {"event": "clearAudio", "streamId": STREAM}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"{}", INVALID_FRAME),
        ('{"event": "media", "media": {}}', INVALID_FRAME),
        ('{"event": "clearAudio"}', INVALID_FRAME),
        (
            '{"event": "playAudio", "media": {"contentType": "audio/x-l16", "sampleRate": 8000, "payload": ""}}',
            WRONG_AUDIO,
        ),
        (
            '{"event": "playAudio", "media": {"contentType": "audio/x-mulaw", "sampleRate": 16000, "payload": ""}}',
            WRONG_AUDIO,
        ),
        (
            '{"event": "playAudio", "media": {"contentType": "audio/x-mulaw", "sampleRate": 8000, "payload": "**"}}',
            INVALID_FRAME,
        ),
    ],
)
def test_plivo_refuses_frames_it_cannot_play(frame: str | bytes, code: int) -> None:
    side = PlivoCarrierSide(STREAM, CALL, ACCOUNT, MULAW_8K)
    with pytest.raises(ProtocolViolation) as raised:
        side.parse(frame)
    assert raised.value.code == code


def test_l16_audio_must_be_whole_samples() -> None:
    side = PlivoCarrierSide(STREAM, CALL, ACCOUNT, PCM16_8K)
    odd = json.dumps(
        {
            "event": "playAudio",
            "media": {
                "contentType": "audio/x-l16",
                "sampleRate": 8000,
                "payload": base64.b64encode(b"abc").decode(),
            },
        }
    )
    with pytest.raises(ProtocolViolation, match="whole 16-bit samples"):
        side.parse(odd)
