"""Exotel's Voicebot stream, both ends: the frames of carriers.md §6.2 in, ours out, and
Exotel's own checks on what we send."""

from __future__ import annotations

import base64
import json

import pytest

from bridge.audio.formats import PCM16_8K, PCM16_16K, PCM16_24K
from bridge.carriers.base import (
    ClearAudio,
    Connected,
    Dtmf,
    MarkPlayed,
    Media,
    PlaceMark,
    PlayAudio,
    ProtocolViolation,
    Started,
    Stopped,
    StreamNotStarted,
)
from bridge.carriers.exotel.auth import joined_ticket, split_ticket
from bridge.carriers.exotel.protocol import (
    INVALID_MEDIA,
    MALFORMED_FRAME,
    MAX_FRAMES_PER_MESSAGE,
    ExotelCarrierSide,
    ExotelMediaStream,
)

STREAM, CALL, ACCOUNT = "stream_1", "b6f3c1d2e4a5", "kallglot1"
TICKET = "v1." + "t" * 600  # longer than one custom parameter can carry


def started(rate: int = 8000) -> tuple[ExotelMediaStream, ExotelCarrierSide]:
    side = ExotelCarrierSide(STREAM, CALL, ACCOUNT, sample_rate=rate)
    stream = ExotelMediaStream()
    assert stream.parse(side.connected()) == Connected()
    stream.parse(side.start(split_ticket(TICKET)))
    return stream, side


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
def test_start_reports_the_call_the_format_and_the_ticket_joined_back(rate: int) -> None:
    side = ExotelCarrierSide(STREAM, CALL, ACCOUNT, sample_rate=rate)
    stream = ExotelMediaStream()
    event = stream.parse(side.start(split_ticket(TICKET) | {"other": "x"}))
    fmt = {8000: PCM16_8K, 16000: PCM16_16K, 24000: PCM16_24K}[rate]
    assert event == Started(STREAM, CALL, ACCOUNT, {"ticket": TICKET, "other": "x"}, fmt)
    assert (stream.started, stream.stream_id, stream.media_format) == (True, STREAM, fmt)


def test_the_documented_frames_are_read_as_written() -> None:
    """The examples of carriers.md §6.2, field for field."""
    stream = ExotelMediaStream()
    start = {
        "event": "start",
        "sequence_number": "1",
        "stream_sid": STREAM,
        "start": {
            "stream_sid": STREAM,
            "call_sid": CALL,
            "account_sid": ACCOUNT,
            "from": "+919800000001",
            "to": "+918000000002",
            "custom_parameters": {"session": "s7f3c"},
            "media_format": {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"},
        },
    }
    assert stream.parse(json.dumps(start)) == Started(
        STREAM, CALL, ACCOUNT, {"session": "s7f3c"}, PCM16_8K
    )
    media = {"chunk": "2", "timestamp": "200", "payload": b64(bytes(1600))}
    frames = [
        ({"event": "media", "sequence_number": "3", "stream_sid": STREAM, "media": media},
         Media(bytes(1600), 200, 2)),
        ({"event": "dtmf", "stream_sid": STREAM, "dtmf": {"digit": "5", "duration": "100"}},
         Dtmf("5")),
        ({"event": "mark", "stream_sid": STREAM, "mark": {"name": "utt-3"}}, MarkPlayed("utt-3")),
        ({"event": "stop", "stream_sid": STREAM,
          "stop": {"call_sid": CALL, "account_sid": ACCOUNT, "reason": "callended"}}, Stopped()),
    ]  # fmt: skip
    for frame, event in frames:
        assert stream.parse(json.dumps(frame)) == event


def test_camel_case_from_older_material_is_accepted() -> None:
    stream = ExotelMediaStream()
    start = {
        "event": "start",
        "streamSid": STREAM,
        "start": {
            "streamSid": STREAM,
            "callSid": CALL,
            "accountSid": ACCOUNT,
            "customParameters": split_ticket(TICKET),
            "mediaFormat": {"encoding": "audio/x-raw", "sampleRate": 16000},
        },
    }
    assert stream.parse(json.dumps(start)) == Started(
        STREAM, CALL, ACCOUNT, {"ticket": TICKET}, PCM16_16K
    )
    media = {"event": "media", "streamSid": STREAM, "media": {"payload": b64(bytes(640))}}
    assert stream.parse(json.dumps(media)) == Media(bytes(640))


def test_a_100_ms_chunk_arrives_as_one_media_event() -> None:
    stream, side = started()
    assert stream.parse(side.media(b"\x01\x02" * 800)) == Media(b"\x01\x02" * 800, 0, 1)
    assert stream.parse(side.media(bytes(1600))) == Media(bytes(1600), 100, 2)


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"\x00" * 320, "binary frame"),
        ('{"event": "media", "stream_sid": "other", "media": {"payload": ""}}', "another"),
        ('{"event": "media", "stream_sid": "stream_1", "media": {"payload": "AAEC"}}', "whole"),
        ('{"event": "media", "stream_sid": "stream_1", "media": {"payload": "!!"}}', "base64"),
        ('{"event": "dtmf", "stream_sid": "stream_1", "dtmf": {"digit": "55"}}', "dtmf"),
        ('{"event": 5}', "'event'"),
        ("[]", "not a JSON object"),
    ],
)
def test_malformed_frames_are_violations_that_say_what_was_wrong(
    frame: str | bytes, reason: str
) -> None:
    stream, _ = started()
    with pytest.raises(ProtocolViolation, match=reason):
        stream.parse(frame)


@pytest.mark.parametrize(
    ("fmt", "reason"),
    [
        ({"encoding": "audio/x-mulaw", "sample_rate": "8000"}, "encoding"),
        ({"encoding": "audio/x-raw", "sample_rate": "44100"}, "sample_rate"),
        ({"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "8"}, "bit_rate"),
    ],
)
def test_a_start_in_a_format_we_did_not_ask_for_is_refused(
    fmt: dict[str, str], reason: str
) -> None:
    frame = json.loads(ExotelCarrierSide(STREAM, CALL, ACCOUNT).start({}))
    frame["start"]["media_format"] = fmt
    stream = ExotelMediaStream()
    with pytest.raises(ProtocolViolation, match=reason):
        stream.parse(json.dumps(frame))
    assert not stream.started  # refused frames change nothing


def test_order_is_enforced_media_before_start_and_a_second_start() -> None:
    side = ExotelCarrierSide(STREAM, CALL, ACCOUNT)
    stream = ExotelMediaStream()
    with pytest.raises(ProtocolViolation, match="before start"):
        stream.parse(side.media(bytes(320)))
    stream.parse(side.start({}))
    with pytest.raises(ProtocolViolation, match="second start"):
        stream.parse(side.start({}))
    with pytest.raises(ProtocolViolation, match="connected after start"):
        stream.parse(side.connected())
    assert stream.parse('{"event": "future_event"}') is None


def test_what_we_send_is_what_exotel_takes() -> None:
    stream, side = started()
    five_frames = b"\x05\x00" * 800
    assert side.parse(stream.media(five_frames)) == PlayAudio(five_frames)
    assert side.parse(stream.mark("m1")) == PlaceMark("m1")
    assert side.parse(stream.clear()) == ClearAudio()
    assert json.loads(stream.clear()) == {"event": "clear", "stream_sid": STREAM}
    assert json.loads(stream.mark("m1")) == {
        "event": "mark",
        "stream_sid": STREAM,
        "mark": {"name": "m1"},
    }
    assert MAX_FRAMES_PER_MESSAGE == 5  # 100 ms, Exotel's own chunk


def test_nothing_is_sent_before_start() -> None:
    stream = ExotelMediaStream()
    for send in (lambda: stream.media(bytes(320)), lambda: stream.mark("m"), stream.clear):
        with pytest.raises(StreamNotStarted):
            send()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"\x00" * 320, MALFORMED_FRAME),
        ('{"event": "media", "stream_sid": "stream_1", "media": {"payload": "AAAA"}}',
         INVALID_MEDIA),  # 3 bytes: not a multiple of 320
        ('{"event": "playAudio", "stream_sid": "stream_1"}', MALFORMED_FRAME),
        ('{"event": "clear"}', MALFORMED_FRAME),  # no stream_sid: Exotel would drop it
        ('{"event": "mark", "stream_sid": "stream_1"}', MALFORMED_FRAME),
    ],
)  # fmt: skip
def test_exotel_refuses_what_breaks_its_contract(frame: str | bytes, code: int) -> None:
    side = ExotelCarrierSide(STREAM, CALL, ACCOUNT)
    with pytest.raises(ProtocolViolation) as refused:
        side.parse(frame)
    assert refused.value.code == code


def test_a_payload_of_whole_20_ms_frames_at_any_rate_is_a_multiple_of_320() -> None:
    for rate, frame in ((8000, 320), (16000, 640), (24000, 960)):
        stream, side = started(rate)
        assert side.parse(stream.media(bytes(frame * 3))) == PlayAudio(bytes(frame * 3))
    stream, side = started()
    with pytest.raises(ProtocolViolation, match="multiple of 320") as refused:
        side.parse(stream.media(bytes(160)))
    assert refused.value.code == INVALID_MEDIA


def test_the_ticket_is_split_in_order_and_joined_back() -> None:
    parts = split_ticket(TICKET)
    assert list(parts) == ["t1", "t2", "t3"]
    assert all(len(part) <= 256 for part in parts.values())
    assert joined_ticket(parts) == {"ticket": TICKET}
    assert joined_ticket({"ticket": "explicit", "t1": "x"}) == {"ticket": "explicit"}
    with pytest.raises(ValueError, match="3 custom parameters"):
        split_ticket("x" * 769)
