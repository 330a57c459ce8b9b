"""Twilio media-stream frames, both ends: only ProtocolViolation escapes, valid frames round-trip.

`TwilioMediaStream.parse` reads what the carrier sends on a media WebSocket (untrusted: anyone who
gets past the upgrade check, or a carrier bug); `TwilioCarrierSide.parse` is the simulator's
Twilio-strict check of what the bridge sends. Each is fed sequences of frames, because the stream
is stateful (nothing but `connected`/`start` before `start`, one `start`, one streamSid).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.audio.formats import MULAW_8K
from bridge.carriers.base import (
    Command,
    Connected,
    Dtmf,
    MarkPlayed,
    Media,
    ProtocolViolation,
    Started,
    Stopped,
)
from bridge.carriers.twilio.protocol import (
    BINARY_FRAME,
    DTMF_DIGITS,
    INVALID_MESSAGE,
    MAX_INBOUND_PAYLOAD_CHARS,
    TwilioCarrierSide,
    TwilioMediaStream,
)
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.genome import Genome
from tests.fuzz.genome import frame as framed
from tests.fuzz.strategies import (
    ANY_CHAR,
    assert_well_formed,
    b64,
    bridge_commands,
    frame_for,
    genomes,
    outcome,
    text,
)

STREAM = "MZ" + "1" * 32
CALL = "CA" + "2" * 32
ACCOUNT = "AC" + "3" * 32
FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
# Valid frames, the busiest first and deep fields before `event` (see genome.mutate).
INBOUND: dict[str, dict[str, Any]] = {
    "media": {
        "media": {"payload": b64(bytes(160)), "timestamp": "20", "chunk": "1", "track": "inbound"},
        "streamSid": STREAM,
        "sequenceNumber": "2",
        "event": "media",
    },
    "start": {
        "start": {
            "customParameters": {"ticket": "t.s", "leg": "customer"},
            "mediaFormat": FORMAT,
            "streamSid": STREAM,
            "callSid": CALL,
            "accountSid": ACCOUNT,
            "tracks": ["inbound"],
        },
        "streamSid": STREAM,
        "sequenceNumber": "1",
        "event": "start",
    },
    "mark": {"mark": {"name": "m1"}, "streamSid": STREAM, "sequenceNumber": "3", "event": "mark"},
    "dtmf": {
        "dtmf": {"digit": "5", "track": "inbound_track"},
        "streamSid": STREAM,
        "sequenceNumber": "4",
        "event": "dtmf",
    },
    "stop": {
        "stop": {"accountSid": ACCOUNT, "callSid": CALL},
        "streamSid": STREAM,
        "sequenceNumber": "5",
        "event": "stop",
    },
    "connected": {"protocol": "Call", "version": "1.0.0", "event": "connected"},
}
OUTBOUND: dict[str, dict[str, Any]] = {
    "media": {"media": {"payload": b64(bytes(160))}, "streamSid": STREAM, "event": "media"},
    "mark": {"mark": {"name": "m1"}, "streamSid": STREAM, "event": "mark"},
    "clear": {"streamSid": STREAM, "event": "clear"},
}
EVENT_NAMES = [*INBOUND, *OUTBOUND, "Media", "START", "", "closed", "media ", "connected\x00"]
VOCABULARY = [*EVENT_NAMES, STREAM, CALL, ACCOUNT, "MZ" + "9" * 32, FORMAT, {"ticket": 1}, "5", "#"]
KNOWN_KEYS = ["event", "streamSid", "sequenceNumber", "media", "start", "mark", "payload"]
INBOUND_FRAMES = list(INBOUND.values())
OUTBOUND_FRAMES = list(OUTBOUND.values())


def check_inbound(stream: TwilioMediaStream, frame: str | bytes) -> None:
    """One frame through the contract: an event, None, or a ProtocolViolation, nothing else,
    and a refused frame leaves the stream exactly as it was."""
    was_started, was_sid = stream.started, stream.stream_id
    event = outcome(ProtocolViolation, stream.parse, frame, sent=frame)
    if isinstance(event, ProtocolViolation):
        assert isinstance(event.reason, str)
        assert 0 < len(event.reason) <= 100, event.reason  # a log line, not an echo of the frame
        assert (event.code == BINARY_FRAME) == isinstance(frame, bytes)
        assert (stream.started, stream.stream_id) == (was_started, was_sid)
        return
    assert isinstance(frame, str)
    if isinstance(event, Started):
        assert not was_started
        assert stream.stream_id == event.stream_id
        assert 0 < len(event.stream_id) <= 64
        assert 0 < len(event.call_id) <= 64
        assert isinstance(event.account_id, str)
        assert event.media_format == MULAW_8K
        assert all(type(v) is str for v in event.custom_parameters.values())
        assert all(type(t) is str for t in event.tracks)
        return
    assert (stream.started, stream.stream_id) == (was_started, was_sid)
    if isinstance(event, Media):
        assert was_started, "media accepted before start"
        assert type(event.payload) is bytes
        assert len(event.payload) <= MAX_INBOUND_PAYLOAD_CHARS * 3 // 4
        for counter in (event.timestamp_ms, event.chunk):
            assert counter is None or (type(counter) is int and counter >= 0)
    elif isinstance(event, Dtmf):
        assert was_started
        assert event.digit in DTMF_DIGITS
    elif isinstance(event, MarkPlayed):
        assert was_started
        assert type(event.name) is str
    elif isinstance(event, Connected):
        assert not was_started
        assert type(event.protocol) is str
        assert type(event.version) is str
    else:
        assert event is None or isinstance(event, Stopped), event


@FUZZ
@given(genomes)
def test_carrier_frames_raise_only_protocol_violations(genome: bytes) -> None:
    """A sequence of up to five frames on one stream, started or not: media before start, a
    second start, another streamSid, and every malformed frame in between."""
    g = Genome(genome)
    stream = TwilioMediaStream()
    if g.byte() % 3 != 2:
        stream.parse(json.dumps(INBOUND["start"]))
    for number in range(1 + g.below(5)):
        if number and g.exhausted:
            break  # the rest would be copies of one frame
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
def test_bridge_frames_are_checked_like_twilio_does(genome: bytes) -> None:
    sent = framed(Genome(genome), OUTBOUND_FRAMES, VOCABULARY, KNOWN_KEYS)
    side = TwilioCarrierSide(STREAM, CALL, ACCOUNT)
    command = outcome(ProtocolViolation, side.parse, sent, sent=sent)
    if isinstance(command, ProtocolViolation):
        assert command.code in (BINARY_FRAME, INVALID_MESSAGE)
        assert (command.code == BINARY_FRAME) == isinstance(sent, bytes)
        assert 0 < len(command.reason) <= 100
        return
    assert isinstance(sent, str)
    assert_well_formed(command)


sids = st.text(ANY_CHAR, min_size=1, max_size=64)
parameters = st.dictionaries(text, text, max_size=4)
audio = st.binary(max_size=MAX_INBOUND_PAYLOAD_CHARS * 3 // 4)
counters = st.integers(min_value=0, max_value=10**15 - 1)


@ROUNDTRIP
@given(
    stream_sid=sids,
    call_sid=sids,
    account_sid=text,
    custom=parameters,
    tracks=st.lists(text, max_size=3).map(tuple),
    payloads=st.lists(st.tuples(audio, st.none() | counters), max_size=3),
    digit=st.sampled_from(sorted(DTMF_DIGITS)),
    mark=st.text(ANY_CHAR, max_size=40),
)
def test_everything_the_carrier_side_builds_parses_back_to_the_same_values(
    stream_sid: str,
    call_sid: str,
    account_sid: str,
    custom: dict[str, str],
    tracks: tuple[str, ...],
    payloads: list[tuple[bytes, int | None]],
    digit: str,
    mark: str,
) -> None:
    twilio = TwilioCarrierSide(stream_sid, call_sid, account_sid)
    stream = TwilioMediaStream()
    assert stream.parse(twilio.connected()) == Connected("Call", "1.0.0")
    started = stream.parse(twilio.start(custom, tracks))
    assert started == Started(stream_sid, call_sid, account_sid, custom, MULAW_8K, tracks)
    assert dict(started.custom_parameters) == custom
    for number, (payload, stamp) in enumerate(payloads, start=1):
        expected_stamp = (number - 1) * 20 if stamp is None else stamp
        assert stream.parse(twilio.media(payload, stamp)) == Media(payload, expected_stamp, number)
    assert stream.parse(twilio.dtmf(digit)) == Dtmf(digit)
    assert stream.parse(twilio.mark(mark)) == MarkPlayed(mark)
    assert stream.parse(twilio.stop()) == Stopped()


@ROUNDTRIP
@given(
    stream_sid=sids,
    commands=bridge_commands,
)
def test_everything_the_bridge_sends_parses_on_the_carrier_side(
    stream_sid: str, commands: list[Command]
) -> None:
    stream = TwilioMediaStream()
    twilio = TwilioCarrierSide(stream_sid, CALL, ACCOUNT)
    stream.parse(twilio.start({}))
    for command in commands:
        assert twilio.parse(frame_for(stream, command)) == command


@ROUNDTRIP
@given(genomes)
def test_a_media_payload_is_decoded_exactly_or_refused(genome: bytes) -> None:
    """Strict base64: exactly the bytes Twilio meant, or a violation; never a lenient guess."""
    payload = Genome(genome).base64()
    stream = TwilioMediaStream()
    stream.parse(json.dumps(INBOUND["start"]))
    frame = json.dumps({"event": "media", "streamSid": STREAM, "media": {"payload": payload}})
    try:
        event = stream.parse(frame)
    except ProtocolViolation:
        try:
            binascii.a2b_base64(payload, strict_mode=True)
        except ValueError:
            return
        assert len(payload) > MAX_INBOUND_PAYLOAD_CHARS, payload
        return
    assert isinstance(event, Media)
    assert event.payload == base64.b64decode(payload, validate=True)
