"""Telnyx media-stream frames, both ends: only ProtocolViolation escapes, valid frames round-trip,
and the reorder window puts shuffled audio back exactly once.

`TelnyxMediaStream.parse` reads what the carrier sends on a media WebSocket (untrusted: anyone who
gets past the upgrade check, or a carrier bug); `TelnyxCarrierSide.parse` is the simulator's
Telnyx-strict check of what the bridge sends. The bridge's end is stateful (nothing but
`connected`/`start`/`stop`/`error` before `start`, one `start`, one stream_id, a reorder window
over `media.chunk`), so it is fed sequences of frames.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.audio.formats import ALAW_8K, MULAW_8K
from bridge.carriers.base import (
    CarrierWarning,
    Command,
    Connected,
    Dtmf,
    MarkPlayed,
    Media,
    ProtocolViolation,
    Started,
    Stopped,
)
from bridge.carriers.telnyx.protocol import (
    DTMF_DIGITS,
    ENCODINGS,
    INVALID_MEDIA,
    MALFORMED_FRAME,
    MAX_INBOUND_PAYLOAD_CHARS,
    MAX_WARNING_CHARS,
    REORDER_WINDOW,
    TelnyxCarrierSide,
    TelnyxMediaStream,
    encode_client_state,
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

STREAM = "32de0dea-53cb-4b21-89a4-9e1819c043bc"
CALL = "v3:" + "c" * 52
USER = "3e6f995f-85f7-4705-9741-53b116d28237"
FORMAT = {"encoding": "PCMU", "sample_rate": 8000, "channels": 1}
PCMA = {"encoding": "audio/x-alaw", "sample_rate": 8000, "channels": 1}
# Valid frames, the busiest first and deep fields before `event` (see genome.mutate).
INBOUND: dict[str, dict[str, Any]] = {
    "media": {
        "media": {"payload": b64(bytes(160)), "timestamp": "0", "chunk": "1", "track": "inbound"},
        "stream_id": STREAM,
        "sequence_number": "3",
        "event": "media",
    },
    "start": {
        "start": {
            "custom_parameters": {"leg": "customer"},
            "client_state": encode_client_state({"ticket": "t.s"}),
            "media_format": FORMAT,
            "call_control_id": CALL,
            "user_id": USER,
            "call_session_id": "s",
            "from": "+15550001111",
            "to": "+15550002222",
        },
        "stream_id": STREAM,
        "sequence_number": "1",
        "event": "start",
    },
    "error": {
        "error": {"code": "100005", "title": "rate_limit_reached", "detail": "Too many"},
        "stream_id": STREAM,
        "sequence_number": "6",
        "event": "error",
    },
    "mark": {"mark": {"name": "m1"}, "stream_id": STREAM, "sequence_number": "4", "event": "mark"},
    "dtmf": {"dtmf": {"digit": "5"}, "stream_id": STREAM, "sequence_number": "5", "event": "dtmf"},
    "stop": {
        "stop": {"user_id": USER, "call_control_id": CALL},
        "stream_id": STREAM,
        "sequence_number": "9",
        "event": "stop",
    },
    "connected": {"x-telnyx-streaming-auth-token": "tok", "version": "1.0.0", "event": "connected"},
}
OUTBOUND: dict[str, dict[str, Any]] = {
    "media": {"media": {"payload": b64(bytes(160))}, "event": "media"},
    "mark": {"mark": {"name": "m1"}, "event": "mark"},
    "clear": {"event": "clear"},
}
EVENT_NAMES = [*INBOUND, *OUTBOUND, "Media", "START", "", "closed", "media ", "connected\x00"]
VOCABULARY = [
    *EVENT_NAMES,
    *ENCODINGS,
    STREAM,
    CALL,
    "another-stream",
    FORMAT,
    {"ticket": 1},
    "inbound",
    "outbound",
    *"012345#",
    "3",
    "4",
    "53",
    "999999999999999",
    2,
    3,
]
KNOWN_KEYS = ["event", "stream_id", "sequence_number", "media", "start", "error", "payload"]
# Variants that reach the reorder window, the other track and the other codec.
INBOUND_FRAMES = [
    *INBOUND.values(),
    {**INBOUND["media"], "media": {"payload": b64(bytes(80)), "chunk": "3", "timestamp": "40"}},
    {**INBOUND["media"], "media": {"payload": b64(b"\x01" * 160)}},
    {**INBOUND["media"], "media": {"payload": b64(bytes(160)), "chunk": 2, "track": "outbound"}},
    {**INBOUND["start"], "start": {**INBOUND["start"]["start"], "media_format": PCMA}},
]
OUTBOUND_FRAMES = list(OUTBOUND.values())
# One released Media may carry every held frame and the one that released them.
MAX_RELEASED_BYTES = (REORDER_WINDOW + 2) * (MAX_INBOUND_PAYLOAD_CHARS * 3 // 4)


def state(stream: TelnyxMediaStream) -> tuple[object, ...]:
    return (stream.started, stream.stream_id, stream.call_id, stream.media_format)


def check_inbound(stream: TelnyxMediaStream, frame: str | bytes) -> None:
    """One frame through the contract: an event, None, or a ProtocolViolation, nothing else,
    and a refused frame leaves the stream (reorder window included) exactly as it was."""
    was, was_late, was_held = state(stream), stream.late_frames, dict(stream._held)
    event = outcome(ProtocolViolation, stream.parse, frame, sent=frame)
    if isinstance(event, ProtocolViolation):
        assert isinstance(event.reason, str)
        assert 0 < len(event.reason) <= 100, event.reason  # a log line, not an echo of the frame
        assert event.code is None
        assert (state(stream), stream.late_frames, stream._held) == (was, was_late, was_held)
        return
    assert isinstance(frame, str)
    assert len(stream._held) <= REORDER_WINDOW
    if isinstance(event, Started):
        assert not was[0]
        assert stream.stream_id == event.stream_id
        assert stream.call_id == event.call_id
        assert 0 < len(event.stream_id) <= 256
        assert 0 < len(event.call_id) <= 256
        assert type(event.account_id) is str
        assert event.media_format in (MULAW_8K, ALAW_8K)
        assert event.media_format == stream.media_format
        assert all(type(v) is str for v in event.custom_parameters.values())
        return
    assert state(stream) == was
    if isinstance(event, CarrierWarning):
        assert type(event.code) is str
        assert 0 < len(event.code) <= 16
        assert type(event.message) is str
        assert 0 < len(event.message) <= MAX_WARNING_CHARS
    elif isinstance(event, Media):
        assert was[0], "media accepted before start"
        assert type(event.payload) is bytes
        assert len(event.payload) <= MAX_RELEASED_BYTES
        for counter in (event.timestamp_ms, event.chunk):
            assert counter is None or (type(counter) is int and counter >= 0)
    elif isinstance(event, Dtmf):
        assert was[0]
        assert event.digit in DTMF_DIGITS
    elif isinstance(event, MarkPlayed):
        assert was[0]
        assert type(event.name) is str
    elif isinstance(event, Connected):
        assert not was[0]
        version = json.loads(frame).get("version")
        assert event == Connected("", version if type(version) is str else "")  # no token
    else:
        assert event is None or isinstance(event, Stopped), event


@FUZZ
@given(genomes)
def test_carrier_frames_raise_only_protocol_violations(genome: bytes) -> None:
    """A sequence of up to five frames on one stream, started or not: media before start, a
    second start, another stream_id, chunks out of order, and every malformed frame between."""
    g = Genome(genome)
    stream = TelnyxMediaStream()
    if g.byte() % 3 != 2:
        stream.parse(json.dumps(INBOUND_FRAMES[-1] if g.byte() % 4 == 3 else INBOUND["start"]))
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
def test_bridge_frames_are_checked_like_telnyx_does(genome: bytes) -> None:
    sent = framed(Genome(genome), OUTBOUND_FRAMES, VOCABULARY, KNOWN_KEYS)
    side = TelnyxCarrierSide(STREAM, CALL)
    command = outcome(ProtocolViolation, side.parse, sent, sent=sent)
    if isinstance(command, ProtocolViolation):
        assert command.code in (MALFORMED_FRAME, INVALID_MEDIA)
        assert 0 < len(command.reason) <= 100
        if isinstance(sent, bytes):
            assert command.code == MALFORMED_FRAME
        return
    assert isinstance(sent, str)
    assert_well_formed(command)


ids = st.text(ANY_CHAR, min_size=1, max_size=64)
parameters = st.dictionaries(text, text, max_size=4)
audio = st.binary(max_size=MAX_INBOUND_PAYLOAD_CHARS * 3 // 4)
stamps = st.none() | st.integers(min_value=0, max_value=10**15 - 1)


@ROUNDTRIP
@given(
    stream_id=ids,
    call_id=ids,
    user_id=text,
    encoding=st.sampled_from(sorted(ENCODINGS)),
    custom=parameters,
    client_state=st.none() | parameters,
    payloads=st.lists(st.tuples(audio, stamps), max_size=3),
    digit=st.sampled_from(sorted(DTMF_DIGITS)),
    mark=st.text(ANY_CHAR, max_size=40),
    error=st.tuples(st.text(ANY_CHAR, min_size=1, max_size=16), text, text),
)
def test_everything_the_carrier_side_builds_parses_back_to_the_same_values(
    stream_id: str,
    call_id: str,
    user_id: str,
    encoding: str,
    custom: dict[str, str],
    client_state: dict[str, str] | None,
    payloads: list[tuple[bytes, int | None]],
    digit: str,
    mark: str,
    error: tuple[str, str, str],
) -> None:
    encoded = None if client_state is None else encode_client_state(client_state)
    telnyx = TelnyxCarrierSide(
        stream_id, call_id, encoding=encoding, client_state=encoded, user_id=user_id
    )
    stream = TelnyxMediaStream()
    assert stream.parse(telnyx.connected("tok")) == Connected("", "1.0.0")
    expected = dict(custom)
    if client_state is not None and "ticket" not in custom:
        expected = client_state | custom
    started = stream.parse(telnyx.start(custom))
    assert started == Started(stream_id, call_id, user_id, expected, ENCODINGS[encoding])
    for number, (payload, stamp) in enumerate(payloads, start=1):
        expected_stamp = (number - 1) * 20 if stamp is None else stamp
        media = stream.parse(telnyx.media(payload, timestamp_ms=stamp))
        assert media == Media(payload, expected_stamp, number)
    assert stream.parse(telnyx.dtmf(digit)) == Dtmf(digit)
    assert stream.parse(telnyx.mark(mark)) == MarkPlayed(mark)
    code, title, detail = error
    warning = stream.parse(telnyx.error(code, title, detail))
    message = ": ".join(t for t in (title, detail) if t)[:MAX_WARNING_CHARS]
    assert warning == CarrierWarning(code, message or "no detail")
    assert stream.parse(telnyx.stop()) == Stopped()
    assert stream.late_frames == 0


@ROUNDTRIP
@given(
    commands=bridge_commands,
)
def test_everything_the_bridge_sends_parses_on_the_carrier_side(
    commands: list[Command],
) -> None:
    telnyx = TelnyxCarrierSide(STREAM, CALL)
    stream = TelnyxMediaStream()
    stream.parse(telnyx.start({}))
    for command in commands:
        assert telnyx.parse(frame_for(stream, command)) == command


@ROUNDTRIP
@given(genomes)
def test_a_media_payload_is_decoded_exactly_or_refused(genome: bytes) -> None:
    """Strict base64: exactly the bytes Telnyx meant, or a violation; never a lenient guess."""
    payload = Genome(genome).base64()
    stream = TelnyxMediaStream()
    stream.parse(json.dumps(INBOUND["start"]))
    frame = json.dumps({"event": "media", "stream_id": STREAM, "media": {"payload": payload}})
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


# ---- the reorder window ------------------------------------------------------------------


def shuffled_through(
    stream: TelnyxMediaStream, telnyx: TelnyxCarrierSide, order: list[int]
) -> bytes:
    """What the bridge releases when chunks arrive in `order` (each chunk's payload is its own
    number, two bytes), checking every release on the way: in order, each frame once."""
    out = b""
    for chunk in order:
        event = stream.parse(telnyx.media(chunk.to_bytes(2, "big"), chunk=chunk))
        if event is None:
            continue
        assert isinstance(event, Media)
        assert event.chunk == int.from_bytes(event.payload[:2], "big")
        assert event.timestamp_ms == (event.chunk - 1) * 20
        out += event.payload
    return out


def numbers(payload: bytes) -> list[int]:
    return [int.from_bytes(payload[i : i + 2], "big") for i in range(0, len(payload), 2)]


@ROUNDTRIP
@given(st.integers(1, REORDER_WINDOW + 1).flatmap(lambda n: st.permutations(range(1, n + 1))))
def test_any_permutation_within_the_window_comes_out_in_order_exactly_once(
    order: list[int],
) -> None:
    """The stream's first frames, in any order the window can hold: all of it, in order."""
    telnyx, stream = TelnyxCarrierSide(STREAM, CALL), TelnyxMediaStream()
    stream.parse(telnyx.start({}))
    assert numbers(shuffled_through(stream, telnyx, order)) == sorted(order)
    assert (stream.late_frames, stream._held) == (0, {})


@ROUNDTRIP
@given(
    st.lists(st.integers(0, REORDER_WINDOW + 1), min_size=1, max_size=80).map(
        # Chunk i sorted by i + delay: a frame overtakes at most REORDER_WINDOW later ones.
        lambda delays: [i for _, i in sorted((i + d, i) for i, d in enumerate(delays, start=1))]
    )
)
def test_a_long_jittered_stream_comes_out_in_order_exactly_once(order: list[int]) -> None:
    telnyx, stream = TelnyxCarrierSide(STREAM, CALL), TelnyxMediaStream()
    stream.parse(telnyx.start({}))
    assert numbers(shuffled_through(stream, telnyx, order)) == sorted(order)
    assert (stream.late_frames, stream._held) == (0, {})


@ROUNDTRIP
@given(
    st.lists(st.integers(1, 12), min_size=1, max_size=24),
)
def test_any_arrival_order_releases_each_frame_at_most_once_and_in_order(
    order: list[int],
) -> None:
    """Beyond the window, duplicates included: whatever is released is increasing, and every
    frame sent is released, counted late, or still held."""
    telnyx, stream = TelnyxCarrierSide(STREAM, CALL), TelnyxMediaStream()
    stream.parse(telnyx.start({}))
    released = numbers(shuffled_through(stream, telnyx, order))
    assert released == sorted(set(released))
    assert len(released) + stream.late_frames + len(stream._held) == len(order)
    assert not set(released) & set(stream._held)
