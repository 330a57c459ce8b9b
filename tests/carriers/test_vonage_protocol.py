"""Vonage's media stream, both ends: what Vonage sends becomes the bridge's events, what the
bridge sends is what Vonage plays, and what Vonage would refuse is refused by each end."""

from __future__ import annotations

import json

import pytest

from bridge.audio.formats import AudioFormat, Encoding
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
from bridge.carriers.vonage.dialled import MAX_AGE_S, DialledCalls
from bridge.carriers.vonage.protocol import (
    INVALID_MESSAGE,
    WRONG_FRAME_SIZE,
    VonageCarrierSide,
    VonageMediaStream,
    frame_bytes,
)

HEADERS = {"ticket": "t.s", "call_uuid": "63f61863-4a51-4f6b-86e1-46edebcf9356"}


def started(rate: int = 16000, headers: dict[str, str] | None = None) -> VonageMediaStream:
    stream = VonageMediaStream()
    event = stream.parse(VonageCarrierSide(rate).connected(HEADERS if headers is None else headers))
    assert isinstance(event, Started)
    return stream


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
def test_connected_starts_the_stream_at_the_negotiated_rate(rate: int) -> None:
    stream = VonageMediaStream()
    assert not stream.started
    event = stream.parse(VonageCarrierSide(rate).connected(HEADERS))
    assert isinstance(event, Started)
    assert event.media_format == AudioFormat(Encoding.PCM16LE, rate)
    assert stream.media_format == event.media_format
    assert event.call_id == HEADERS["call_uuid"]
    assert dict(event.custom_parameters) == HEADERS  # the headers, flattened at the top level
    assert event.stream_id == stream.stream_id
    assert event.stream_id.startswith("vonage-")
    assert stream.max_frames_per_message == 1


def test_a_dialled_legs_call_is_found_by_its_ticket() -> None:
    seen: list[dict[str, str]] = []

    def dialled(headers: object) -> str:
        seen.append(dict(headers))  # type: ignore[call-overload]
        return "dialled-uuid"

    stream = VonageMediaStream(dialled)
    event = stream.parse(VonageCarrierSide(8000).connected({"ticket": "t.s"}))
    assert isinstance(event, Started)
    assert event.call_id == "dialled-uuid"
    assert seen == [{"ticket": "t.s"}]
    unknown = VonageMediaStream(lambda headers: None).parse(
        VonageCarrierSide(8000).connected({"ticket": "t.s"})
    )
    assert isinstance(unknown, Started)
    assert unknown.call_id == ""


def test_audio_dtmf_and_notify_in_become_events() -> None:
    stream = started(16000)
    side = VonageCarrierSide(16000)
    frame = bytes(range(256)) * 2 + bytes(128)
    assert stream.parse(side.media(frame)) == Media(frame)
    assert stream.parse(side.dtmf("7")) == Dtmf("7")
    assert stream.parse(json.dumps({"event": "websocket:dtmf", "dtmf": {"digit": "#"}})) == Dtmf(
        "#"
    )
    assert stream.parse(side.notify({"name": "m-3"})) == MarkPlayed("m-3")
    assert stream.parse(side.cleared()) is None
    assert stream.parse('{"event":"websocket:something-new"}') is None


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (bytes(320), "320 bytes"),  # 10 ms at 16 kHz: Vonage sends exactly 20 ms
        (bytes(641), "641 bytes"),
        ('{"event":"websocket:connected","content-type":"audio/l16;rate=16000"}', "second"),
        ('{"event":"websocket:dtmf","digit":"x"}', "dtmf digit"),
        ('{"event":"websocket:notify","payload":{}}', "'name'"),
        ('{"event":"websocket:notify"}', "'payload'"),
        ('{"digit":"1"}', "'event'"),
        ("[1]", "not a JSON object"),
        ("{", "not JSON"),
    ],
)
def test_the_bridge_refuses_what_vonage_never_sends(frame: str | bytes, reason: str) -> None:
    with pytest.raises(ProtocolViolation) as violation:
        started(16000).parse(frame)
    assert reason in violation.value.reason


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (bytes(640), "before websocket:connected"),
        ('{"event":"websocket:dtmf","digit":"1"}', "before websocket:connected"),
        ('{"event":"websocket:connected","content-type":"audio/l16;rate=44100"}', "content-type"),
        ('{"event":"websocket:connected","content-type":"audio/pcmu"}', "content-type"),
        ('{"event":"websocket:connected"}', "content-type"),
    ],
)
def test_nothing_comes_before_a_valid_connected(frame: str | bytes, reason: str) -> None:
    with pytest.raises(ProtocolViolation) as violation:
        VonageMediaStream().parse(frame)
    assert reason in violation.value.reason


@pytest.mark.parametrize("rate", [8000, 16000, 24000])
def test_what_the_bridge_sends_is_what_vonage_plays(rate: int) -> None:
    stream, side = started(rate), VonageCarrierSide(rate)
    frame = bytes([7]) * frame_bytes(rate)
    assert side.parse(stream.media(frame)) == PlayAudio(frame)
    assert side.parse(stream.mark("m-1")) == PlaceMark("m-1")
    assert side.parse(stream.clear()) == ClearAudio()
    with pytest.raises(ValueError, match="exactly one 20 ms frame"):
        stream.media(frame + frame)  # one frame per message, never two


def test_nothing_goes_out_before_the_stream_started() -> None:
    stream = VonageMediaStream()
    for send in (lambda: stream.media(bytes(640)), lambda: stream.mark("m"), stream.clear):
        with pytest.raises(StreamNotStarted):
            send()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (bytes(639), WRONG_FRAME_SIZE),
        (bytes(1280), WRONG_FRAME_SIZE),  # two frames in one message distort at Vonage
        ('{"event":"clearAudio"}', INVALID_MESSAGE),  # Plivo's spelling (carriers.md §5.2)
        ('{"action":"notify","payload":"m"}', INVALID_MESSAGE),
        ('{"action":"play"}', INVALID_MESSAGE),
        ("not json", INVALID_MESSAGE),
    ],
)
def test_vonage_refuses_wrong_frames_with_its_label(frame: str | bytes, code: int) -> None:
    with pytest.raises(ProtocolViolation) as violation:
        VonageCarrierSide(16000).parse(frame)
    assert violation.value.code == code


def test_the_carrier_side_refuses_rates_vonage_does_not_stream() -> None:
    with pytest.raises(ValueError, match="44100"):
        VonageCarrierSide(44100)


def test_dialled_calls_are_found_once_and_forgotten_when_stale() -> None:
    dialled = DialledCalls()
    dialled.remember({"ticket": "a"}, "uuid-a", now=0.0)
    dialled.remember({}, "uuid-no-ticket", now=0.0)  # nothing to find it by: not kept
    assert len(dialled) == 1
    assert dialled.take({"ticket": "a"}) == "uuid-a"
    assert dialled.take({"ticket": "a"}) is None  # a ticket is one stream's
    dialled.remember({"ticket": "b"}, "uuid-b", now=0.0)
    dialled.remember({"ticket": "c"}, "uuid-c", now=MAX_AGE_S + 1)  # prunes "b"
    assert dialled.take({"ticket": "b"}) is None
    assert dialled.take({"ticket": "c"}) == "uuid-c"
