"""Twilio Media Streams frames: the documented examples, every violation, both directions."""

from __future__ import annotations

import base64
import contextlib
import json
import random
from typing import Any

import pytest

from bridge.audio.formats import MULAW_8K
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
from bridge.carriers.twilio import TwilioCarrierSide, TwilioMediaStream

STREAM = "MZ00000000000000000000000000000001"
ACCOUNT = "AC00000000000000000000000000000002"
CALL = "CA00000000000000000000000000000003"

# carriers.md §1.3, verbatim shapes.
CONNECTED = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
START = {
    "event": "start",
    "sequenceNumber": "1",
    "streamSid": STREAM,
    "start": {
        "streamSid": STREAM,
        "accountSid": ACCOUNT,
        "callSid": CALL,
        "tracks": ["inbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"session": "s_7f3c", "token": "one-time-token-abc"},
    },
}
PAYLOAD = bytes(range(160))
MEDIA = {
    "event": "media",
    "sequenceNumber": "42",
    "streamSid": STREAM,
    "media": {
        "track": "inbound",
        "chunk": "41",
        "timestamp": "820",
        "payload": base64.b64encode(PAYLOAD).decode(),
    },
}
DTMF = {
    "event": "dtmf",
    "streamSid": STREAM,
    "sequenceNumber": "57",
    "dtmf": {"track": "inbound_track", "digit": "7"},
}
MARK = {"event": "mark", "sequenceNumber": "63", "streamSid": STREAM, "mark": {"name": "utt-3"}}
STOP = {
    "event": "stop",
    "sequenceNumber": "900",
    "streamSid": STREAM,
    "stop": {"accountSid": ACCOUNT, "callSid": CALL},
}


def started() -> TwilioMediaStream:
    stream = TwilioMediaStream()
    stream.parse(json.dumps(CONNECTED))
    stream.parse(json.dumps(START))
    return stream


def with_(base: dict[str, Any], path: str, value: Any) -> str:
    """`base` as JSON with the dotted `path` set to `value` (or removed when value is ...)."""
    msg = json.loads(json.dumps(base))
    *parents, last = path.split(".")
    target = msg
    for key in parents:
        target = target[key]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return json.dumps(msg)


def test_documented_messages_parse_to_events() -> None:
    stream = TwilioMediaStream()
    assert not stream.started
    assert stream.parse(json.dumps(CONNECTED)) == Connected("Call", "1.0.0")
    start = stream.parse(json.dumps(START))
    assert isinstance(start, Started)
    assert (start.stream_id, start.call_id, start.account_id) == (STREAM, CALL, ACCOUNT)
    assert dict(start.custom_parameters) == {"session": "s_7f3c", "token": "one-time-token-abc"}
    assert start.media_format == MULAW_8K == stream.media_format
    assert start.tracks == ("inbound",)
    assert stream.started
    assert stream.stream_id == STREAM
    assert stream.call_id == CALL
    assert stream.parse(json.dumps(MEDIA)) == Media(PAYLOAD, timestamp_ms=820, chunk=41)
    assert stream.parse(json.dumps(DTMF)) == Dtmf("7")
    assert stream.parse(json.dumps(MARK)) == MarkPlayed("utt-3")
    assert stream.parse(json.dumps(STOP)) == Stopped()


def test_unknown_events_are_ignored() -> None:
    stream = started()
    assert stream.parse(json.dumps({"event": "telepathy", "streamSid": STREAM})) is None


def test_media_without_counters_still_parses() -> None:
    stream = started()
    message = with_(json.loads(with_(MEDIA, "media.chunk", ...)), "media.timestamp", ...)
    assert stream.parse(message) == Media(PAYLOAD, None, None)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b'{"event": "media"}', "binary frame"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ("[" * 60_000, "not JSON"),
        ('{"event": 7}', "'event' is missing"),
        ("{}", "'event' is missing"),
        (with_(MEDIA, "media", "abc"), "'media' is missing or not an object"),
        (with_(MEDIA, "media.payload", ...), "'payload' is missing"),
        (with_(MEDIA, "media.payload", 12), "'payload' is missing or not a string"),
        (with_(MEDIA, "media.payload", "not base64!"), "not base64"),
        (with_(MEDIA, "media.payload", "AAA"), "not base64"),
        (with_(MEDIA, "media.payload", "Ä" * 8), "not base64"),
        (with_(MEDIA, "media.payload", "A" * 20_000), "exceeds"),
        (with_(MEDIA, "media.chunk", "-1"), "'chunk' is not a decimal counter"),
        (with_(MEDIA, "media.timestamp", 1.5), "'timestamp' is not a decimal counter"),
        (with_(MEDIA, "streamSid", "MZother"), "media for another streamSid"),
        (with_(MEDIA, "streamSid", ...), "media for another streamSid"),
        (with_(DTMF, "dtmf.digit", "12"), "dtmf digit"),
        (with_(DTMF, "dtmf", None), "'dtmf' is missing"),
        (with_(MARK, "mark.name", None), "'name' is missing"),
        (with_(MARK, "mark", ...), "'mark' is missing"),
        (with_(STOP, "streamSid", "MZother"), "stop for another streamSid"),
        (json.dumps(START), "second start"),
        (json.dumps(CONNECTED), "connected after start"),
        (json.dumps({"event": "x" * 70_000}), "exceeds"),
    ],
)
def test_violations_after_start(message: str | bytes, reason: str) -> None:
    stream = started()
    with pytest.raises(ProtocolViolation, match=reason) as caught:
        stream.parse(message)
    assert reason in caught.value.reason


@pytest.mark.parametrize("event", [MEDIA, DTMF, MARK])
def test_stream_events_before_start_are_violations(event: dict[str, Any]) -> None:
    with pytest.raises(ProtocolViolation, match="before start"):
        TwilioMediaStream().parse(json.dumps(event))


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("start", [], "'start' is missing"),
        ("start.streamSid", None, "'streamSid' is missing"),
        ("start.callSid", ..., "'callSid' is missing"),
        ("start.accountSid", 5, "'accountSid' is missing"),
        ("start.streamSid", "", "empty or oversized"),
        ("streamSid", "MZother", "two different streamSids"),
        ("start.mediaFormat.sampleRate", 16000, "mediaFormat"),
        ("start.mediaFormat.channels", True, "mediaFormat"),
        ("start.mediaFormat", ..., "'mediaFormat' is missing"),
        ("start.tracks", "inbound", "'tracks'"),
        ("start.customParameters", {"n": 1}, "'customParameters'"),
    ],
)
def test_bad_start_is_a_violation_and_starts_nothing(path: str, value: Any, reason: str) -> None:
    stream = TwilioMediaStream()
    with pytest.raises(ProtocolViolation, match=reason):
        stream.parse(with_(START, path, value))
    assert not stream.started


def test_stop_before_start_is_accepted() -> None:
    assert TwilioMediaStream().parse(json.dumps({"event": "stop"})) == Stopped()


def test_outbound_needs_a_started_stream() -> None:
    stream = TwilioMediaStream()
    for build in (lambda: stream.media(b"x"), lambda: stream.mark("m"), stream.clear):
        with pytest.raises(StreamNotStarted):
            build()


def test_outbound_frames_match_twilio_shapes() -> None:
    stream = started()
    assert json.loads(stream.media(PAYLOAD)) == {
        "event": "media",
        "streamSid": STREAM,
        "media": {"payload": base64.b64encode(PAYLOAD).decode()},
    }
    assert json.loads(stream.mark('utt "3"')) == {
        "event": "mark",
        "streamSid": STREAM,
        "mark": {"name": 'utt "3"'},
    }
    assert json.loads(stream.clear()) == {"event": "clear", "streamSid": STREAM}


def test_outbound_round_trips_through_the_carrier_side() -> None:
    stream = started()
    twilio = TwilioCarrierSide(STREAM, CALL, ACCOUNT)
    assert twilio.parse(stream.media(PAYLOAD)) == PlayAudio(PAYLOAD)
    assert twilio.parse(stream.media(b"")) == PlayAudio(b"")
    assert twilio.parse(stream.mark("utt-3")) == PlaceMark("utt-3")
    assert twilio.parse(stream.clear()) == ClearAudio()


def test_carrier_side_frames_parse_back_on_the_bridge_side() -> None:
    twilio = TwilioCarrierSide(STREAM, CALL, ACCOUNT)
    stream = TwilioMediaStream()
    assert stream.parse(twilio.connected()) == Connected("Call", "1.0.0")
    start = stream.parse(twilio.start({"ticket": "t"}))
    assert isinstance(start, Started)
    assert dict(start.custom_parameters) == {"ticket": "t"}
    assert json.loads(twilio.start({}))["sequenceNumber"] == "2"  # one counter for all frames
    assert stream.parse(twilio.media(PAYLOAD)) == Media(PAYLOAD, 0, 1)
    assert stream.parse(twilio.media(PAYLOAD)) == Media(PAYLOAD, 20, 2)
    assert stream.parse(twilio.dtmf("#")) == Dtmf("#")
    assert stream.parse(twilio.mark("m")) == MarkPlayed("m")
    assert stream.parse(twilio.stop()) == Stopped()


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"binary", 31950),
        ("nope", 31951),
        ('{"event": "media", "streamSid": "MZx", "media": {"payload": ""}}', 31951),
        (f'{{"event": "pause", "streamSid": "{STREAM}"}}', 31951),
        (f'{{"event": "clear", "streamSid": "{STREAM}", "extra": 1}}', 31951),
        (f'{{"event": "media", "streamSid": "{STREAM}", "media": {{}}}}', 31951),
        (f'{{"event": "media", "streamSid": "{STREAM}", "media": {{"payload": "!"}}}}', 31951),
        (f'{{"event": "mark", "streamSid": "{STREAM}"}}', 31951),
        (f'{{"event": "mark", "streamSid": "{STREAM}", "mark": {{"name": 3}}}}', 31951),
    ],
)
def test_carrier_side_rejects_what_twilio_rejects(message: str | bytes, code: int) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        TwilioCarrierSide(STREAM, CALL, ACCOUNT).parse(message)
    assert caught.value.code == code


def mutations(rng: random.Random, seed: str) -> str:
    chars = list(seed)
    for _ in range(rng.randint(1, 6)):
        position = rng.randrange(len(chars) + 1)
        choice = rng.random()
        if choice < 0.4 and chars:
            del chars[min(position, len(chars) - 1)]
        elif choice < 0.8:
            chars.insert(position, rng.choice('{}[]":,0123456789aeAZ\\ \x00é-+.etrufnl'))
        elif chars:
            chars[min(position, len(chars) - 1)] = chr(rng.randrange(0x20, 0x3000))
    return "".join(chars)


def test_mutated_frames_raise_only_protocol_violations() -> None:
    """A cheap stand-in for the hypothesis fuzzer: nothing else may escape `parse`."""
    rng = random.Random(1234)
    seeds = [json.dumps(m) for m in (CONNECTED, START, MEDIA, DTMF, MARK, STOP)]
    for _ in range(5000):
        stream = started() if rng.random() < 0.7 else TwilioMediaStream()
        twilio = TwilioCarrierSide(STREAM, CALL, ACCOUNT)
        message = mutations(rng, rng.choice(seeds))
        for parse in (stream.parse, twilio.parse):
            with contextlib.suppress(ProtocolViolation):
                parse(message)
