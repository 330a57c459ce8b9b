"""Plivo audio-stream frames, both ends: only ProtocolViolation escapes, valid frames round-trip.

`PlivoMediaStream.parse` reads what arrives on a Plivo media WebSocket (untrusted: anyone past
the upgrade check); `PlivoCarrierSide.parse` is the simulator's Plivo-strict check of what the
bridge sends. The bridge's end is stateful (nothing but `start` and unknown events before
`start`, one `start`, one streamId), so it is fed sequences of frames.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.audio.formats import MULAW_8K, PCM16_8K, PCM16_16K, AudioFormat
from bridge.carriers.base import (
    ClearAudio,
    Command,
    Dtmf,
    MarkPlayed,
    Media,
    PlaceMark,
    PlayAudio,
    ProtocolViolation,
    Started,
)
from bridge.carriers.plivo import extra_headers
from bridge.carriers.plivo.protocol import (
    DTMF_DIGITS,
    INVALID_FRAME,
    WRONG_AUDIO,
    PlivoCarrierSide,
    PlivoMediaStream,
)
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.genome import Genome
from tests.fuzz.genome import frame as framed
from tests.fuzz.strategies import ANY_CHAR, assert_well_formed, b64, frame_for, genomes, outcome

STREAM = "20170ada-f610-433b-8758-c02a2aab3662"
CALL = "c2a0a1d6-7a36-4b2e-9f63-04d7c7b8b6a1"
ACCOUNT = "MAXXXXXXXXXXXXXXXXX1"
FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000}
TICKET = extra_headers.encode_ticket("eyJjIjoiY2FsbF8xIn0.c2lnbmF0dXJl")
INBOUND: dict[str, dict[str, Any]] = {
    "media": {
        "media": {"payload": b64(bytes(160)), "timestamp": "20", "chunk": 1, "track": "inbound"},
        "streamId": STREAM,
        "sequenceNumber": 2,
        "event": "media",
    },
    "start": {
        "start": {
            "mediaFormat": FORMAT,
            "callId": CALL,
            "streamId": STREAM,
            "accountId": ACCOUNT,
            "tracks": ["inbound"],
        },
        "extra_headers": json.dumps({"ticket": TICKET, "requestid": "7n42DGM5Tflk9n8mX5Rm6r"}),
        "sequenceNumber": 1,
        "event": "start",
    },
    "dtmf": {"dtmf": {"digit": "5", "track": "inbound"}, "streamId": STREAM, "event": "dtmf"},
    "playedStream": {
        "name": "m1",
        "streamId": STREAM,
        "sequenceNumber": "9",
        "event": "playedStream",
    },
    "clearedAudio": {"streamId": STREAM, "sequenceNumber": 10, "event": "clearedAudio"},
}
OUTBOUND: dict[str, dict[str, Any]] = {
    "playAudio": {
        "media": {"contentType": "audio/x-mulaw", "sampleRate": 8000, "payload": b64(bytes(160))},
        "event": "playAudio",
    },
    "checkpoint": {"streamId": STREAM, "name": "m1", "event": "checkpoint"},
    "clearAudio": {"streamId": STREAM, "event": "clearAudio"},
}
VOCABULARY = [
    *INBOUND,
    *OUTBOUND,
    "stop",
    "connected",
    "",
    STREAM,
    CALL,
    FORMAT,
    "audio/x-l16",
    16000,
    "8000",
    TICKET,
    '{"ticket": 1}',
    "{",
    "inbound",
    "outbound",
    *"012345#",
    -1,
    10**15,
]
KNOWN_KEYS = ["event", "streamId", "sequenceNumber", "media", "start", "extra_headers", "name"]
FRAMES = [*INBOUND.values()]
OUTBOUND_FRAMES = list(OUTBOUND.values())


def check(stream: PlivoMediaStream, frame: str | bytes) -> None:
    was = (stream.started, stream.stream_id, stream.call_uuid)
    event = outcome(ProtocolViolation, stream.parse, frame, sent=frame)
    if isinstance(event, ProtocolViolation):
        assert 0 < len(event.reason) <= 200, event.reason
        assert event.code is None
        assert (stream.started, stream.stream_id, stream.call_uuid) == was
        return
    assert isinstance(frame, str)
    if isinstance(event, Started):
        assert not was[0]
        assert 0 < len(event.stream_id) <= 256
        assert 0 < len(event.call_id) <= 256
        assert event.media_format == MULAW_8K
        assert all(type(v) is str for v in event.custom_parameters.values())
        return
    assert (stream.started, stream.stream_id, stream.call_uuid) == was
    if isinstance(event, Media):
        assert was[0], "media accepted before start"
        assert type(event.payload) is bytes
    elif isinstance(event, Dtmf):
        assert was[0]
        assert event.digit in DTMF_DIGITS
    elif isinstance(event, MarkPlayed):
        assert was[0]
        assert type(event.name) is str
    else:
        assert event is None, event


@FUZZ
@given(genomes)
def test_carrier_frames_raise_only_protocol_violations(genome: bytes) -> None:
    g = Genome(genome)
    stream = PlivoMediaStream(MULAW_8K)
    if g.byte() % 3 != 2:
        stream.parse(json.dumps(INBOUND["start"]))
    for number in range(1 + g.below(5)):
        if number and g.exhausted:
            break
        sent = (
            json.dumps(g.pick(FRAMES))
            if g.below(4) == 3
            else framed(g, FRAMES, VOCABULARY, KNOWN_KEYS)
        )
        try:
            check(stream, sent)
        except Exception as exc:
            raise AssertionError(f"frame {sent[:300]!r}") from exc


@FUZZ
@given(genomes)
def test_bridge_frames_are_checked_like_plivo_does(genome: bytes) -> None:
    sent = framed(Genome(genome), OUTBOUND_FRAMES, VOCABULARY, KNOWN_KEYS)
    side = PlivoCarrierSide(STREAM, CALL, ACCOUNT, MULAW_8K)
    command = outcome(ProtocolViolation, side.parse, sent, sent=sent)
    if isinstance(command, ProtocolViolation):
        assert command.code in (INVALID_FRAME, WRONG_AUDIO)
        assert 0 < len(command.reason) <= 200
        return
    assert isinstance(sent, str)
    assert_well_formed(command)


ids = st.text(ANY_CHAR, min_size=1, max_size=64)
formats = st.sampled_from([MULAW_8K, PCM16_8K, PCM16_16K])


@ROUNDTRIP
@given(
    stream_id=ids,
    call_id=ids,
    audio=formats,
    headers=st.dictionaries(
        st.text(st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=8).filter(
            lambda k: k not in ("ticket", "requestid")
        ),
        st.text(ANY_CHAR, max_size=16),
        max_size=3,
    ),
    with_ticket=st.booleans(),
    samples=st.lists(st.binary(max_size=400).map(lambda b: b[: len(b) // 2 * 2]), max_size=3),
    digit=st.sampled_from(sorted(DTMF_DIGITS)),
    mark=st.text(ANY_CHAR, max_size=40),
)
def test_everything_the_carrier_side_builds_parses_back_to_the_same_values(
    stream_id: str,
    call_id: str,
    audio: AudioFormat,
    headers: dict[str, str],
    with_ticket: bool,
    samples: list[bytes],
    digit: str,
    mark: str,
) -> None:
    plivo = PlivoCarrierSide(stream_id, call_id, ACCOUNT, audio)
    stream = PlivoMediaStream(audio)
    request_id = str(uuid.uuid4())
    sent = dict(headers)
    expected = dict(headers)
    if with_ticket:
        ticket = "eyJjIjoiY2FsbF8xIn0.c2lnbmF0dXJl"
        sent["ticket"] = extra_headers.encode_ticket(ticket)
        sent["requestid"] = extra_headers.base62(uuid.UUID(request_id).bytes)
        expected["ticket"] = ticket
    started = stream.parse(plivo.start(sent))
    leg = request_id if with_ticket else call_id
    assert started == Started(stream_id, leg, ACCOUNT, expected, audio)
    for number, payload in enumerate(samples, start=1):
        assert stream.parse(plivo.media(payload)) == Media(payload, number * 20, number)
    assert stream.parse(plivo.dtmf(digit)) == Dtmf(digit)
    if len(mark) <= 256:
        assert stream.parse(plivo.played(mark)) == MarkPlayed(mark)
    assert stream.parse(plivo.cleared()) is None


@ROUNDTRIP
@given(
    audio=formats,
    commands=st.lists(
        st.one_of(
            st.binary(max_size=4000).map(lambda b: ("play", b[: len(b) // 2 * 2])),
            st.text(ANY_CHAR, max_size=40).map(lambda name: ("mark", name)),
            st.just(("clear", None)),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_everything_the_bridge_sends_parses_on_the_carrier_side(
    audio: AudioFormat, commands: list[tuple[str, Any]]
) -> None:
    plivo = PlivoCarrierSide(STREAM, CALL, ACCOUNT, audio)
    stream = PlivoMediaStream(audio)
    stream.parse(plivo.start({}))
    for kind, value in commands:
        command: Command = (
            PlayAudio(value)
            if kind == "play"
            else PlaceMark(value)
            if kind == "mark"
            else ClearAudio()
        )
        assert plivo.parse(frame_for(stream, command)) == command


@ROUNDTRIP
@given(st.binary(max_size=400))
def test_any_bytes_go_through_base62_and_come_back(data: bytes) -> None:
    assert extra_headers.unbase62(extra_headers.base62(data)) == data
    assert extra_headers.base62(data).isalnum()
