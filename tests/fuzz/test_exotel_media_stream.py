"""Exotel media-stream frames, both ends: only ProtocolViolation escapes, a refused frame changes
nothing, valid frames round-trip, and the ticket survives its split over custom parameters.

`ExotelMediaStream.parse` reads what arrives on an Exotel media WebSocket (untrusted: anyone
past the Basic auth check, or a carrier bug); `ExotelCarrierSide.parse` is the simulator's
Exotel-strict check of what the bridge sends (JSON text, this stream's sid, audio in multiples
of 320 bytes). The bridge's end is stateful (one `start`, one stream_sid), so it is fed
sequences of frames.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.audio.formats import Encoding
from bridge.carriers.base import (
    ClearAudio,
    Command,
    Connected,
    Dtmf,
    MarkPlayed,
    Media,
    PlaceMark,
    PlayAudio,
    ProtocolViolation,
    Started,
    Stopped,
)
from bridge.carriers.exotel.auth import split_ticket
from bridge.carriers.exotel.protocol import (
    DTMF_DIGITS,
    INVALID_MEDIA,
    MALFORMED_FRAME,
    MAX_INBOUND_PAYLOAD_CHARS,
    PAYLOAD_MULTIPLE,
    RATES,
    ExotelCarrierSide,
    ExotelMediaStream,
)
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.genome import Genome
from tests.fuzz.genome import frame as framed
from tests.fuzz.strategies import (
    ANY_CHAR,
    assert_well_formed,
    b64,
    frame_for,
    genomes,
    outcome,
    text,
)

STREAM, CALL, ACCOUNT = "b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5", "a1b2c3d4e5f6a7b8c9d0", "kallglot1"
FORMAT = {"encoding": "audio/x-raw", "sample_rate": "8000", "bit_rate": "16"}
# Valid frames, the busiest first and deep fields before `event` (see genome.mutate).
INBOUND: dict[str, dict[str, Any]] = {
    "media": {
        "media": {"payload": b64(bytes(1600)), "timestamp": "100", "chunk": "2"},
        "stream_sid": STREAM,
        "sequence_number": "3",
        "event": "media",
    },
    "start": {
        "start": {
            "custom_parameters": {"t1": "a" * 256, "t2": "b.c"},
            "media_format": FORMAT,
            "stream_sid": STREAM,
            "call_sid": CALL,
            "account_sid": ACCOUNT,
            "from": "+919800000001",
            "to": "+918000000002",
        },
        "stream_sid": STREAM,
        "sequence_number": "1",
        "event": "start",
    },
    "mark": {"mark": {"name": "m1"}, "stream_sid": STREAM, "sequence_number": "4", "event": "mark"},
    "dtmf": {"dtmf": {"digit": "5", "duration": "100"}, "stream_sid": STREAM, "event": "dtmf"},
    "stop": {
        "stop": {"call_sid": CALL, "account_sid": ACCOUNT, "reason": "callended"},
        "stream_sid": STREAM,
        "sequence_number": "9",
        "event": "stop",
    },
    "connected": {"event": "connected"},
}
OUTBOUND: dict[str, dict[str, Any]] = {
    "media": {"media": {"payload": b64(bytes(640))}, "stream_sid": STREAM, "event": "media"},
    "mark": {"mark": {"name": "m1"}, "stream_sid": STREAM, "event": "mark"},
    "clear": {"stream_sid": STREAM, "event": "clear"},
}
EVENT_NAMES = [*INBOUND, *OUTBOUND, "Media", "START", "", "media ", "connected\x00"]
VOCABULARY = [
    *EVENT_NAMES,
    STREAM,
    CALL,
    "another-stream",
    FORMAT,
    "audio/x-raw",
    "16000",
    "24000",
    "44100",
    {"t1": 1},
    *"012345#",
    "999999999999999",
    16,
    8000,
]
KNOWN_KEYS = ["event", "stream_sid", "streamSid", "media", "start", "payload", "media_format"]
INBOUND_FRAMES = [
    *INBOUND.values(),
    {**INBOUND["media"], "media": {"payload": b64(bytes(3))}},  # not whole samples
    {"event": "media", "streamSid": STREAM, "media": {"payload": b64(bytes(320))}},
    {
        **INBOUND["start"],
        "start": {**INBOUND["start"]["start"], "media_format": {**FORMAT, "sample_rate": 16000}},
    },
]
OUTBOUND_FRAMES = [
    *OUTBOUND.values(),
    {**OUTBOUND["media"], "media": {"payload": b64(bytes(100))}},  # not a multiple of 320
]


def state(stream: ExotelMediaStream) -> tuple[object, ...]:
    return (stream.started, stream.stream_id, stream.media_format)


def check_inbound(stream: ExotelMediaStream, frame: str | bytes) -> None:
    """One frame through the contract: an event, None, or a ProtocolViolation, nothing else,
    and a refused frame leaves the stream exactly as it was."""
    was = state(stream)
    event = outcome(ProtocolViolation, stream.parse, frame, sent=frame)
    if isinstance(event, ProtocolViolation):
        assert isinstance(event.reason, str)
        assert 0 < len(event.reason) <= 100, event.reason  # a log line, not an echo
        assert event.code is None
        assert state(stream) == was
        return
    assert isinstance(frame, str)
    if isinstance(event, Started):
        assert not was[0]
        assert stream.stream_id == event.stream_id
        assert 0 < len(event.stream_id) <= 256
        assert 0 < len(event.call_id) <= 256
        assert type(event.account_id) is str
        assert event.media_format.encoding is Encoding.PCM16LE
        assert event.media_format.sample_rate in RATES
        assert all(type(v) is str for v in event.custom_parameters.values())
        assert not {"t1", "t2", "t3"} & set(event.custom_parameters)
        return
    assert state(stream) == was
    if isinstance(event, Media):
        assert was[0], "media accepted before start"
        assert type(event.payload) is bytes
        assert len(event.payload) % 2 == 0
        assert len(event.payload) <= MAX_INBOUND_PAYLOAD_CHARS * 3 // 4
    elif isinstance(event, Dtmf):
        assert was[0]
        assert event.digit in DTMF_DIGITS
    elif isinstance(event, MarkPlayed):
        assert was[0]
        assert type(event.name) is str
    elif isinstance(event, Connected):
        assert not was[0]
    else:
        assert event is None or isinstance(event, Stopped), event


@FUZZ
@given(genomes)
def test_carrier_frames_raise_only_protocol_violations(genome: bytes) -> None:
    g = Genome(genome)
    stream = ExotelMediaStream()
    if g.byte() % 3 != 2:
        stream.parse(json.dumps(INBOUND_FRAMES[-1] if g.byte() % 4 == 3 else INBOUND["start"]))
    for number in range(1 + g.below(5)):
        if number and g.exhausted:
            break
        if g.below(4) == 3:
            sent: str | bytes = json.dumps(g.pick(INBOUND_FRAMES))
        else:
            sent = framed(g, INBOUND_FRAMES, VOCABULARY, KNOWN_KEYS)
        try:
            check_inbound(stream, sent)
        except Exception as exc:
            raise AssertionError(f"frame {sent[:300]!r}") from exc


@FUZZ
@given(genomes)
def test_bridge_frames_are_checked_like_exotel_does(genome: bytes) -> None:
    sent = framed(Genome(genome), OUTBOUND_FRAMES, VOCABULARY, KNOWN_KEYS)
    side = ExotelCarrierSide(STREAM, CALL, ACCOUNT)
    command = outcome(ProtocolViolation, side.parse, sent, sent=sent)
    if isinstance(command, ProtocolViolation):
        assert command.code in (MALFORMED_FRAME, INVALID_MEDIA)
        assert 0 < len(command.reason) <= 100
        if isinstance(sent, bytes):
            assert command.code == MALFORMED_FRAME
        return
    assert isinstance(sent, str)
    assert_well_formed(command)
    if isinstance(command, PlayAudio):
        assert len(command.payload) % PAYLOAD_MULTIPLE == 0


ids = st.text(ANY_CHAR, min_size=1, max_size=64)
audio = st.binary(max_size=4800).map(lambda b: b[: len(b) // 2 * 2])


@ROUNDTRIP
@given(
    stream_id=ids,
    call_id=ids,
    account=text,
    rate=st.sampled_from(sorted(RATES)),
    ticket=st.text(ANY_CHAR, max_size=768),
    payloads=st.lists(audio, max_size=3),
    digit=st.sampled_from(sorted(DTMF_DIGITS)),
    mark=st.text(ANY_CHAR, max_size=40),
)
def test_everything_the_carrier_side_builds_parses_back_to_the_same_values(
    stream_id: str,
    call_id: str,
    account: str,
    rate: int,
    ticket: str,
    payloads: list[bytes],
    digit: str,
    mark: str,
) -> None:
    exotel = ExotelCarrierSide(stream_id, call_id, account, sample_rate=rate)
    stream = ExotelMediaStream()
    assert stream.parse(exotel.connected()) == Connected()
    started = stream.parse(exotel.start(split_ticket(ticket)))
    assert isinstance(started, Started)
    assert (started.stream_id, started.call_id, started.account_id) == (stream_id, call_id, account)
    assert dict(started.custom_parameters) == {"ticket": ticket}
    assert started.media_format.sample_rate == rate
    elapsed = 0
    for number, payload in enumerate(payloads, start=1):
        assert stream.parse(exotel.media(payload)) == Media(payload, elapsed, number)
        elapsed += len(payload) * 1000 // (2 * rate)
    assert stream.parse(exotel.dtmf(digit)) == Dtmf(digit)
    assert stream.parse(exotel.mark(mark)) == MarkPlayed(mark)
    assert stream.parse(exotel.stop()) == Stopped()


commands = st.lists(
    st.one_of(
        st.integers(0, 15).map(lambda n: PlayAudio(bytes(PAYLOAD_MULTIPLE * n))),
        st.text(ANY_CHAR, max_size=40).map(PlaceMark),
        st.just(ClearAudio()),
    ),
    min_size=1,
    max_size=4,
)


@ROUNDTRIP
@given(commands=commands)
def test_everything_the_bridge_sends_parses_on_the_carrier_side(commands: list[Command]) -> None:
    exotel = ExotelCarrierSide(STREAM, CALL, ACCOUNT)
    stream = ExotelMediaStream()
    stream.parse(exotel.start({}))
    for command in commands:
        assert exotel.parse(frame_for(stream, command)) == command
