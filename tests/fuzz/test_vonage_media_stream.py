"""Vonage media-stream frames, both ends: only ProtocolViolation escapes, valid frames round-trip.

`VonageMediaStream.parse` reads what arrives on a Vonage media WebSocket (untrusted: anyone past
the handshake check, or a carrier bug): binary audio that must be exactly one 20 ms frame at the
negotiated rate, and JSON text control. `VonageCarrierSide.parse` is the simulator's Vonage-
strict check of what the bridge sends. The bridge's end is stateful (nothing but
`websocket:connected` first, once, and it sets the frame size), so it is fed sequences.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.audio.formats import AudioFormat, Encoding
from bridge.carriers.base import Command, Dtmf, MarkPlayed, Media, ProtocolViolation, Started
from bridge.carriers.vonage.protocol import (
    DTMF_DIGITS,
    INVALID_MESSAGE,
    MAX_HEADERS,
    RATES,
    WRONG_FRAME_SIZE,
    VonageCarrierSide,
    VonageMediaStream,
    frame_bytes,
)
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.genome import Genome
from tests.fuzz.genome import frame as framed
from tests.fuzz.strategies import (
    ANY_CHAR,
    assert_well_formed,
    bridge_commands,
    frame_for,
    genomes,
    outcome,
    text,
)

UUID = "63f61863-4a51-4f6b-86e1-46edebcf9356"
INBOUND: dict[str, dict[str, Any]] = {
    "connected": {
        "ticket": "t.s",
        "call_uuid": UUID,
        "content-type": "audio/l16;rate=16000",
        "event": "websocket:connected",
    },
    "dtmf": {"digit": "5", "duration": 260, "event": "websocket:dtmf"},
    "notify": {"payload": {"name": "m1"}, "event": "websocket:notify"},
    "cleared": {"event": "websocket:cleared"},
    "nested_dtmf": {"dtmf": {"digit": "#"}, "event": "websocket:dtmf"},
}
OUTBOUND: dict[str, dict[str, Any]] = {
    "notify": {"payload": {"name": "m1"}, "action": "notify"},
    "clear": {"action": "clear"},
}
VOCABULARY = [
    *(f"websocket:{name}" for name in ("connected", "dtmf", "notify", "cleared", "media")),
    *(f"audio/l16;rate={rate}" for rate in (8000, 16000, 24000, 44100, 0)),
    "audio/L16; rate=16000",
    "clearAudio",
    UUID,
    *"0123456789*#",
    7,
    {"name": 1},
]
KNOWN_KEYS = ["event", "content-type", "digit", "payload", "dtmf", "call_uuid", "action"]
FRAMES = list(INBOUND.values())


def check(stream: VonageMediaStream, frame: str | bytes) -> None:
    """One frame through the contract; a refused frame leaves the stream as it was."""
    was = (stream.started, stream.stream_id, stream.media_format)
    event = outcome(ProtocolViolation, stream.parse, frame, sent=frame)
    if isinstance(event, ProtocolViolation):
        assert 0 < len(event.reason) <= 160, event.reason
        assert event.code is None
        assert (stream.started, stream.stream_id, stream.media_format) == was
        return
    if isinstance(event, Started):
        assert not was[0]
        assert stream.started
        assert event.media_format.sample_rate in RATES
        assert len(event.custom_parameters) <= MAX_HEADERS
        assert all(type(v) is str for v in event.custom_parameters.values())
        assert type(event.call_id) is str
        assert len(event.call_id) <= 256
        return
    assert was[0], f"{event} accepted before websocket:connected"
    assert (stream.started, stream.stream_id, stream.media_format) == was
    if isinstance(event, Media):
        assert isinstance(frame, bytes)
        assert len(event.payload) == frame_bytes(stream.media_format.sample_rate)
    elif isinstance(event, Dtmf):
        assert event.digit in DTMF_DIGITS
    elif isinstance(event, MarkPlayed):
        assert type(event.name) is str
    else:
        assert event is None, event


@FUZZ
@given(genomes)
def test_carrier_frames_raise_only_protocol_violations(genome: bytes) -> None:
    g = Genome(genome)
    stream = VonageMediaStream()
    if g.byte() % 3 != 2:
        rate = RATES[g.below(3)]
        stream.parse(VonageCarrierSide(rate).connected({"ticket": "t.s"}))
    for number in range(1 + g.below(5)):
        if number and g.exhausted:
            break
        kind = g.below(6)
        if kind == 5:
            sent: str | bytes = bytes(g.below(4) * 320 + g.below(2))  # audio, right size or not
        elif kind == 4:
            sent = json.dumps(g.pick(FRAMES))
        else:
            sent = framed(g, FRAMES, VOCABULARY, KNOWN_KEYS)
        try:
            check(stream, sent)
        except Exception as exc:
            raise AssertionError(f"frame {sent[:300]!r}") from exc


@FUZZ
@given(genomes, st.sampled_from(RATES))
def test_bridge_frames_are_checked_like_vonage_does(genome: bytes, rate: int) -> None:
    g = Genome(genome)
    sent = (
        bytes(g.below(1000))
        if g.byte() % 4 == 0
        else framed(g, list(OUTBOUND.values()), VOCABULARY, KNOWN_KEYS)
    )
    command = outcome(ProtocolViolation, VonageCarrierSide(rate).parse, sent, sent=sent)
    if isinstance(command, ProtocolViolation):
        assert command.code in (WRONG_FRAME_SIZE, INVALID_MESSAGE)
        assert 0 < len(command.reason) <= 160
        return
    assert_well_formed(command)
    if isinstance(sent, bytes):
        assert len(sent) == frame_bytes(rate)


@ROUNDTRIP
@given(
    rate=st.sampled_from(RATES),
    headers=st.dictionaries(st.text(ANY_CHAR, min_size=1, max_size=16), text, max_size=4).map(
        lambda h: {k: v for k, v in h.items() if k not in ("event", "content-type")}
    ),
    digit=st.sampled_from(sorted(DTMF_DIGITS)),
    mark=st.text(ANY_CHAR, max_size=40),
    audio=st.data(),
)
def test_everything_the_carrier_side_builds_parses_back_to_the_same_values(
    rate: int, headers: dict[str, str], digit: str, mark: str, audio: st.DataObject
) -> None:
    vonage, stream = VonageCarrierSide(rate), VonageMediaStream()
    started = stream.parse(vonage.connected(headers))
    assert isinstance(started, Started)
    assert dict(started.custom_parameters) == headers
    assert started.media_format == AudioFormat(Encoding.PCM16LE, rate)
    size = frame_bytes(rate)
    frame = audio.draw(st.binary(min_size=size, max_size=size))
    assert stream.parse(vonage.media(frame)) == Media(frame)
    assert stream.parse(vonage.dtmf(digit)) == Dtmf(digit)
    assert stream.parse(vonage.notify({"name": mark})) == MarkPlayed(mark)
    assert stream.parse(vonage.cleared()) is None


@ROUNDTRIP
@given(commands=bridge_commands, rate=st.sampled_from(RATES))
def test_everything_the_bridge_sends_parses_on_the_carrier_side(
    commands: list[Command], rate: int
) -> None:
    vonage, stream = VonageCarrierSide(rate), VonageMediaStream()
    stream.parse(vonage.connected({}))
    size = frame_bytes(rate)
    for command in commands:
        if hasattr(command, "payload"):  # the bridge only ever sends whole single frames
            command = type(command)((command.payload * size)[:size] or bytes(size))  # type: ignore[call-arg]
        assert vonage.parse(frame_for(stream, command)) == command
