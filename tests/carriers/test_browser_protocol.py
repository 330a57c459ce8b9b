"""The console's media protocol (bridge/carriers/browser/protocol.py), fed messages directly."""

from __future__ import annotations

import json

import pytest

from bridge.audio.formats import AudioFormat, Encoding
from bridge.carriers.base import MarkPlayed, Media, ProtocolViolation, Started, Stopped
from bridge.carriers.browser import BrowserMediaStream

CALL = "call_1"
LEG = "BR" + "a" * 32


def stream(refusal: str | None = None) -> tuple[BrowserMediaStream, list[tuple[str, str]]]:
    asked: list[tuple[str, str]] = []

    def leg_refusal(leg_id: str, call_id: str) -> str | None:
        asked.append((leg_id, call_id))
        return refusal

    return BrowserMediaStream(leg_refusal, CALL), asked


def start(rate: object = 48000, ticket: object = f"{LEG}.body.sig") -> str:
    return json.dumps({"event": "start", "ticket": ticket, "sampleRate": rate})


@pytest.mark.parametrize(("rate", "frame_bytes"), [(48000, 1920), (16000, 640)])
def test_start_names_the_leg_and_the_rate_fixes_the_frame_size(rate: int, frame_bytes: int) -> None:
    protocol, asked = stream()
    started = protocol.parse(start(rate))
    assert isinstance(started, Started)
    assert (started.call_id, started.stream_id) == (LEG, LEG)
    assert started.custom_parameters["ticket"] == "body.sig"  # the call ticket, for the bridge
    assert started.media_format == AudioFormat(Encoding.PCM16LE, rate)
    assert asked == [(LEG, CALL)]
    assert protocol.parse(bytes(frame_bytes)) == Media(bytes(frame_bytes))
    with pytest.raises(ProtocolViolation, match=f"{frame_bytes} bytes"):
        protocol.parse(bytes(frame_bytes + 2))


def test_the_desks_refusal_is_the_reason_the_stream_is_closed_with() -> None:
    protocol, _ = stream("ticket expired: the media stream must open within 60 s")
    with pytest.raises(ProtocolViolation, match="ticket expired"):
        protocol.parse(start())
    assert not protocol.started


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (start(44100), "sampleRate 44100 is not supported"),
        (start("48000"), "sampleRate '48000' is not supported"),
        (start(ticket=None), "carries no ticket"),
        (bytes(1920), "audio before 'start'"),
        ('{"event": "mark", "name": "1"}', "before 'start'"),
        ("[]", "not a JSON object"),
        ("{", "not JSON"),
    ],
)
def test_malformed_or_early_messages_are_violations(message: str | bytes, reason: str) -> None:
    protocol, _ = stream()
    with pytest.raises(ProtocolViolation, match=reason):
        protocol.parse(message)


def test_marks_stop_and_outbound_frames() -> None:
    protocol, _ = stream()
    protocol.parse(start())
    assert protocol.parse('{"event": "mark", "name": "0:25"}') == MarkPlayed("0:25")
    assert protocol.parse('{"event": "stop"}') == Stopped()
    assert protocol.parse('{"event": "ping"}') is None  # unknown events are not fatal
    with pytest.raises(ProtocolViolation, match="a second 'start'"):
        protocol.parse(start())
    assert protocol.media(b"\x01\x02") == b"\x01\x02"
    assert json.loads(protocol.mark("0:50")) == {"event": "mark", "name": "0:50"}
    assert json.loads(protocol.clear()) == {"event": "clear"}
