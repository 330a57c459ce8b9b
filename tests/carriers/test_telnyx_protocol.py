"""Telnyx media-streaming frames: the documented examples, reordering, every violation, both
directions."""

from __future__ import annotations

import base64
import contextlib
import json
import random
from typing import Any

import pytest

from bridge.audio.formats import ALAW_8K, MULAW_8K
from bridge.carriers.base import (
    CarrierWarning,
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
from bridge.carriers.telnyx.protocol import (
    INVALID_MEDIA,
    MALFORMED_FRAME,
    MAX_CHUNK_JUMP,
    MAX_OUTBOUND_AUDIO_BYTES,
    REORDER_WINDOW,
    TelnyxCarrierSide,
    TelnyxMediaStream,
    encode_client_state,
)

STREAM = "32de0dea-53cb-4b21-89a4-9e1819c043bc"
CALL = "v3:T02llQxIyaRkhfRKxgAP8nY511EhFLizdvdUKJiSw8d6A9BborherQ"
SESSION = "ff55a038-6f5d-11ef-9692-02420aeffb1f"
USER = "3e6f995f-85f7-4705-9741-53b116d28237"
TOKEN = "secret-stream-token-0123456789"

# carriers.md §4.2, verbatim shapes.
CONNECTED = {"event": "connected", "version": "1.0.0"}
START = {
    "event": "start",
    "sequence_number": "1",
    "stream_id": STREAM,
    "start": {
        "user_id": USER,
        "call_control_id": CALL,
        "call_session_id": SESSION,
        "from": "+15550001111",
        "to": "+15550002222",
        "tags": ["t1"],
        "client_state": base64.b64encode(b"have a nice day").decode(),
        "custom_parameters": {"session": "s_7f3c"},
        "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1},
    },
}
PAYLOAD = bytes(range(160))
MEDIA = {
    "event": "media",
    "sequence_number": "4",
    "stream_id": STREAM,
    "media": {
        "track": "inbound",
        "chunk": "1",  # §4.2 shows "2"; a stream's first chunk is 1 (see the reorder tests)
        "timestamp": "0",
        "payload": base64.b64encode(PAYLOAD).decode(),
    },
}
DTMF = {"event": "dtmf", "sequence_number": "9", "stream_id": STREAM, "dtmf": {"digit": "5"}}
MARK = {"event": "mark", "sequence_number": "12", "stream_id": STREAM, "mark": {"name": "utt-3"}}
ERROR = {
    "event": "error",
    "sequence_number": "6",
    "stream_id": STREAM,
    "error": {"code": "100005", "title": "rate_limit_reached", "detail": "Too many requests"},
}
STOP = {
    "event": "stop",
    "sequence_number": "99",
    "stream_id": STREAM,
    "stop": {"user_id": USER, "call_control_id": CALL},
}


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


def started(start: str | None = None) -> TelnyxMediaStream:
    stream = TelnyxMediaStream()
    stream.parse(json.dumps(CONNECTED))
    stream.parse(start or json.dumps(START))
    return stream


def start_event(message: str) -> Started:
    event = TelnyxMediaStream().parse(message)
    assert isinstance(event, Started)
    return event


def frame(chunk: int | None, payload: bytes = PAYLOAD, track: str | None = "inbound") -> str:
    media: dict[str, Any] = {"payload": base64.b64encode(payload).decode()}
    if chunk is not None:
        media |= {"chunk": str(chunk), "timestamp": str(chunk * 20)}
    if track is not None:
        media["track"] = track
    return json.dumps({"event": "media", "stream_id": STREAM, "media": media})


# ---- start ---------------------------------------------------------------------------------


def test_documented_messages_parse_to_events() -> None:
    stream = TelnyxMediaStream()
    assert not stream.started
    assert stream.media_format == MULAW_8K
    assert stream.parse(json.dumps(CONNECTED)) == Connected("", "1.0.0")
    start = stream.parse(json.dumps(START))
    assert isinstance(start, Started)
    assert (start.stream_id, start.call_id, start.account_id) == (STREAM, CALL, USER)
    assert dict(start.custom_parameters) == {"session": "s_7f3c"}  # client_state: not JSON
    assert start.media_format == MULAW_8K == stream.media_format
    assert start.tracks == ("inbound",)
    assert (stream.started, stream.stream_id, stream.call_id) == (True, STREAM, CALL)
    assert stream.parse(json.dumps(MEDIA)) == Media(PAYLOAD, timestamp_ms=0, chunk=1)
    assert stream.parse(json.dumps(DTMF)) == Dtmf("5")
    assert stream.parse(json.dumps(MARK)) == MarkPlayed("utt-3")
    assert stream.parse(json.dumps(ERROR)) == CarrierWarning(
        "100005", "rate_limit_reached: Too many requests"
    )
    assert stream.parse(json.dumps(STOP)) == Stopped()


def test_the_auth_token_in_connected_goes_nowhere() -> None:
    event = TelnyxMediaStream().parse(TelnyxCarrierSide(STREAM, CALL).connected(TOKEN))
    assert event == Connected("", "1.0.0")
    assert TOKEN not in repr(event)


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("PCMU", MULAW_8K), ("audio/x-mulaw", MULAW_8K), ("PCMA", ALAW_8K), ("audio/x-alaw", ALAW_8K)],
)
def test_both_spellings_of_both_encodings(encoding: str, expected: object) -> None:
    stream = started(with_(START, "start.media_format.encoding", encoding))
    assert stream.media_format == expected
    assert stream.parse(json.dumps(MEDIA)) == Media(PAYLOAD, 0, 1)  # bytes pass untouched


@pytest.mark.parametrize(
    ("path", "value", "unsupported"),
    [
        ("start.media_format.encoding", "G722", "encoding 'G722'"),
        ("start.media_format.encoding", "OPUS", "encoding 'OPUS'"),
        ("start.media_format.encoding", "pcmu", "encoding 'pcmu'"),
        ("start.media_format.encoding", None, "encoding None"),
        ("start.media_format.sample_rate", 16000, "sample_rate 16000"),
        ("start.media_format.sample_rate", "8000", "sample_rate '8000'"),
        ("start.media_format.sample_rate", 8000.0, "sample_rate 8000.0"),
        ("start.media_format.sample_rate", ..., "sample_rate None"),
        ("start.media_format.channels", 2, "channels 2"),
        ("start.media_format.channels", True, "channels True"),
    ],
)
def test_unsupported_media_formats_are_refused_saying_what_we_ask_for(
    path: str, value: Any, unsupported: str
) -> None:
    stream = TelnyxMediaStream()
    with pytest.raises(ProtocolViolation) as caught:
        stream.parse(with_(START, path, value))
    assert (
        caught.value.reason
        == f"unsupported {unsupported}: the bridge asks for PCMU/PCMA, 8 kHz, mono"
    )
    assert not stream.started
    assert stream.media_format == MULAW_8K


@pytest.mark.parametrize(
    ("encoding", "shown"),
    [("X" * 5000, "'XXXXXXXXXXXXXXXX..."), (["PCMU"], "a list"), ({"a": 1}, "an object")],
)
def test_an_odd_encoding_is_not_echoed_whole(encoding: Any, shown: str) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        TelnyxMediaStream().parse(with_(START, "start.media_format.encoding", encoding))
    assert caught.value.reason.startswith(f"unsupported encoding {shown}:")
    assert len(caught.value.reason) <= 100


def test_deeply_nested_values_are_refused_without_recursing() -> None:
    """Nesting up to what the JSON decoder accepts (a few thousand levels) ends as a reason,
    not a RecursionError from building it."""
    for depth in (100, 1_000, 5_000, 9_000):
        deep = "[" * depth + "]" * depth
        message = json.dumps(START).replace('"PCMU"', deep)
        with contextlib.suppress(ProtocolViolation):
            TelnyxMediaStream().parse(message)


def test_client_state_fills_in_what_custom_parameters_lack() -> None:
    state = encode_client_state({"ticket": "t.s", "leg": "agent", "session": "from-state"})
    message = with_(START, "start.client_state", state)
    params = start_event(message).custom_parameters
    assert dict(params) == {"session": "s_7f3c", "ticket": "t.s", "leg": "agent"}


def test_a_ticket_in_custom_parameters_leaves_client_state_alone() -> None:
    state = encode_client_state({"ticket": "from-state", "leg": "agent"})
    start = json.loads(with_(START, "start.client_state", state))
    start["start"]["custom_parameters"] = {"ticket": "t.s", "n": 5}
    params = start_event(json.dumps(start)).custom_parameters
    assert dict(params) == {"ticket": "t.s"}  # non-string values are left out


@pytest.mark.parametrize(
    "state",
    [
        "not base64!",
        base64.b64encode(b"[1, 2]").decode(),
        base64.b64encode(b'{"ticket": 7, "leg": "agent"}').decode(),
        base64.b64encode(b"\xff\xfe{").decode(),
        base64.b64encode(b"[" * 100_000).decode()[:8000],
        "A" * 10_000,
        7,
    ],
)
def test_a_client_state_that_is_not_ours_is_ignored(state: Any) -> None:
    params = start_event(with_(START, "start.client_state", state)).custom_parameters
    assert dict(params) in ({"session": "s_7f3c"}, {"session": "s_7f3c", "leg": "agent"})


def test_start_without_optional_fields() -> None:
    start = json.loads(json.dumps(START))
    for key in ("user_id", "call_session_id", "from", "to", "tags", "client_state"):
        del start["start"][key]
    del start["start"]["custom_parameters"]
    event = start_event(json.dumps(start))
    assert (event.account_id, dict(event.custom_parameters)) == ("", {})


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("start", [], "'start' is missing"),
        ("stream_id", ..., "'stream_id' is missing"),
        ("stream_id", "", "empty or oversized"),
        ("stream_id", "s" * 300, "empty or oversized"),
        ("start.call_control_id", None, "'call_control_id' is missing"),
        ("start.user_id", 5, "'user_id'"),
        ("start.media_format", ..., "'media_format' is missing"),
        ("start.custom_parameters", [{"name": "a", "value": "b"}], "'custom_parameters'"),
    ],
)
def test_bad_start_is_a_violation_and_starts_nothing(path: str, value: Any, reason: str) -> None:
    stream = TelnyxMediaStream()
    with pytest.raises(ProtocolViolation, match=reason):
        stream.parse(with_(START, path, value))
    assert not stream.started


# ---- media and its order ------------------------------------------------------------------


def test_media_round_trips_from_the_carrier_side() -> None:
    telnyx = TelnyxCarrierSide(STREAM, CALL, encoding="PCMA")
    stream = TelnyxMediaStream()
    stream.parse(telnyx.start({}))
    assert stream.media_format == ALAW_8K
    assert stream.parse(telnyx.media(PAYLOAD)) == Media(PAYLOAD, 0, 1)
    assert stream.parse(telnyx.media(b"\xd5" * 160)) == Media(b"\xd5" * 160, 20, 2)
    assert stream.parse(telnyx.media(b"", timestamp_ms=777)) == Media(b"", 777, 3)


def test_in_order_frames_are_never_buffered(monkeypatch: pytest.MonkeyPatch) -> None:
    """After the first frame (which fixes where the count starts), frames in order never reach
    the reorder window at all: the common case costs one comparison."""
    stream = started()
    assert stream.parse(frame(1, b"\x01")) == Media(b"\x01", 20, 1)

    def reorder(*args: object) -> None:
        raise AssertionError(f"in-order frame buffered: {args}")

    monkeypatch.setattr(stream, "_reorder", reorder)
    for chunk in range(2, 200):
        assert stream.parse(frame(chunk, bytes([chunk]))) == Media(
            bytes([chunk]), chunk * 20, chunk
        )
    assert stream.late_frames == 0


def test_a_swapped_pair_is_released_in_order_as_one_media() -> None:
    stream = started()
    assert stream.parse(frame(1, b"a")) == Media(b"a", 20, 1)
    assert stream.parse(frame(3, b"c")) is None
    assert stream.parse(frame(2, b"b")) == Media(b"bc", 40, 2)
    assert stream.parse(frame(4, b"d")) == Media(b"d", 80, 4)
    assert stream.late_frames == 0


def test_frames_swapped_at_the_very_start_come_out_in_order() -> None:
    stream = started()
    assert stream.parse(frame(2, b"b")) is None
    assert stream.parse(frame(1, b"a")) == Media(b"ab", 20, 1)


def test_a_stream_numbering_from_later_on_is_held_once_then_flows() -> None:
    """Where Telnyx starts counting is not documented: a count that starts past 1 waits out the
    window once (in case chunk 1 is merely late), then flows."""
    stream = started()
    held = [stream.parse(frame(n, bytes([n]))) for n in range(5, 5 + REORDER_WINDOW)]
    assert held == [None] * REORDER_WINDOW
    assert stream.parse(frame(8, b"\x08")) == Media(bytes([5, 6, 7, 8]), 100, 5)
    assert stream.parse(frame(9, b"\x09")) == Media(b"\x09", 180, 9)
    assert stream.late_frames == 0


def test_a_stream_numbering_from_zero_loses_nothing() -> None:
    stream = started()
    assert [stream.parse(frame(n, bytes([n]))) for n in range(3)] == [
        Media(bytes([n]), n * 20, n) for n in range(3)
    ]


def test_a_gap_is_given_up_after_the_window() -> None:
    stream = started()
    stream.parse(frame(1, b"a"))
    held = [stream.parse(frame(n, bytes([96 + n]))) for n in range(3, 3 + REORDER_WINDOW)]
    assert held == [None] * REORDER_WINDOW
    released = stream.parse(frame(3 + REORDER_WINDOW, b"f"))
    assert released == Media(b"cdef", 60, 3)  # chunk 2 given up
    assert stream.parse(frame(7, b"g")) == Media(b"g", 140, 7)
    assert stream.parse(frame(2, b"b")) is None  # too late now
    assert stream.late_frames == 1


def test_give_up_releases_held_frames_in_chunk_order_across_gaps() -> None:
    stream = started()
    stream.parse(frame(1, b"a"))
    for chunk in (6, 4, 3):
        assert stream.parse(frame(chunk, bytes([96 + chunk]))) is None
    assert stream.parse(frame(8, b"h")) == Media(b"cdfh", 60, 3)
    assert stream.parse(frame(9, b"i")) == Media(b"i", 180, 9)
    assert stream.parse(frame(5, b"e")) is None
    assert stream.late_frames == 1


def test_late_and_duplicate_frames_are_dropped_and_counted() -> None:
    stream = started()
    stream.parse(frame(1))
    stream.parse(frame(2))
    assert stream.parse(frame(2)) is None  # a duplicate of a released frame
    assert stream.parse(frame(1)) is None
    assert stream.parse(frame(4)) is None
    assert stream.parse(frame(4)) is None  # a duplicate of a held frame
    assert stream.late_frames == 3
    assert stream.parse(frame(3, b"c")) == Media(b"c" + PAYLOAD, 60, 3)


def test_a_jumped_counter_costs_a_frame_not_the_rest_of_the_call() -> None:
    stream = started()
    stream.parse(frame(1, b"a"))
    far = 2 + MAX_CHUNK_JUMP + 1
    assert stream.parse(frame(far, b"?")) == Media(b"?", far * 20, far)
    assert stream.parse(frame(2, b"b")) == Media(b"b", 40, 2)  # back to the real counter
    assert stream.parse(frame(3, b"c")) == Media(b"c", 60, 3)
    stream.parse(frame(5, b"e"))
    assert stream.parse(frame(1, b"A")) is None  # 1 is late, not a jump
    assert stream.late_frames == 1


def test_frames_without_a_chunk_pass_straight_through() -> None:
    stream = started()
    stream.parse(frame(1))
    assert stream.parse(frame(3, b"c")) is None
    assert stream.parse(frame(None, b"x")) == Media(b"x", None, None)
    assert stream.parse(frame(2, b"b")) == Media(b"bc", 40, 2)


@pytest.mark.parametrize("track", ["outbound", "both", ""])
def test_other_tracks_are_not_the_callers_audio(track: str) -> None:
    stream = started()
    assert stream.parse(frame(1, track=track)) is None
    assert stream.parse(frame(1, track=None)) == Media(PAYLOAD, 20, 1)


# ---- dtmf, mark, error, stop -------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"error": {"code": "100003", "title": "malformed_frame"}}, ("100003", "malformed_frame")),
        ({"payload": {"code": 100004, "detail": "bad"}}, ("100004", "bad")),
        ({"payload": {"code": "100002", "title": "unknown_error", "detail": "x" * 500}}, None),
        ({"error": "went wrong"}, ("unknown", "went wrong")),
        ({"error": {"code": True}}, ("unknown", "no detail")),
        ({"error": {"code": "9" * 40, "title": 5}}, ("unknown", "no detail")),
        ({"error": None}, ("unknown", "unreadable error frame")),
        ({"payload": [1]}, ("unknown", "unreadable error frame")),
        ({}, ("unknown", "unreadable error frame")),
    ],
)
def test_error_frames_of_either_shape_are_warnings(
    error: dict[str, Any], expected: tuple[str, str] | None
) -> None:
    for stream in (TelnyxMediaStream(), started()):  # at any time, for any stream
        warning = stream.parse(json.dumps({"event": "error", "stream_id": "x"} | error))
        assert isinstance(warning, CarrierWarning)
        if expected is None:
            assert warning.code == "100002"
            assert warning.message.startswith("unknown_error: xxx")
            assert len(warning.message) == 200
        else:
            assert (warning.code, warning.message) == expected


@pytest.mark.parametrize("digit", sorted("0123456789*#ABCD"))
def test_every_dtmf_digit(digit: str) -> None:
    assert started().parse(with_(DTMF, "dtmf.digit", digit)) == Dtmf(digit)


def test_frames_without_a_stream_id_are_ours() -> None:
    stream = started()
    for message, event in [(MEDIA, Media(PAYLOAD, 0, 1)), (MARK, MarkPlayed("utt-3"))]:
        assert stream.parse(with_(message, "stream_id", ...)) == event
    assert stream.parse(with_(STOP, "stream_id", ...)) == Stopped()


def test_stop_before_start_is_accepted() -> None:
    assert TelnyxMediaStream().parse(json.dumps({"event": "stop"})) == Stopped()


def test_unknown_events_are_ignored() -> None:
    assert started().parse(json.dumps({"event": "telepathy", "stream_id": STREAM})) is None


# ---- violations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (b'{"event": "media"}', "binary frame"),
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ("[" * 60_000, "not JSON"),
        ('{"event": 7}', "'event' is missing"),
        ("{}", "'event' is missing"),
        (json.dumps({"event": "x" * 70_000}), "exceeds"),
        (with_(MEDIA, "media", "abc"), "'media' is missing or not an object"),
        (with_(MEDIA, "media.payload", ...), "'payload' is missing"),
        (with_(MEDIA, "media.payload", "not base64!"), "not base64"),
        (with_(MEDIA, "media.payload", "AAA"), "not base64"),
        (with_(MEDIA, "media.payload", "A" * 20_000), "exceeds"),
        (with_(MEDIA, "media.chunk", "-1"), "'chunk' is not a decimal counter"),
        (with_(MEDIA, "media.chunk", "٢"), "'chunk' is not a decimal counter"),
        (with_(MEDIA, "media.timestamp", 1.5), "'timestamp' is not a decimal counter"),
        (with_(MEDIA, "media.track", 1), "'track' is not a string"),
        (with_(MEDIA, "stream_id", "another"), "media for another stream_id"),
        (with_(DTMF, "stream_id", "another"), "dtmf for another stream_id"),
        (with_(MARK, "stream_id", "another"), "mark for another stream_id"),
        (with_(STOP, "stream_id", "another"), "stop for another stream_id"),
        (with_(DTMF, "dtmf.digit", "12"), "dtmf digit"),
        (with_(DTMF, "dtmf", None), "'dtmf' is missing"),
        (with_(MARK, "mark.name", None), "'name' is missing"),
        (json.dumps(START), "second start"),
        (json.dumps(CONNECTED), "connected after start"),
    ],
)
def test_violations_after_start(message: str | bytes, reason: str) -> None:
    stream = started()
    with pytest.raises(ProtocolViolation, match=reason) as caught:
        stream.parse(message)
    assert caught.value.code is None  # codes are what Telnyx says about *our* frames
    assert len(caught.value.reason) <= 100
    assert (stream.stream_id, stream.call_id, stream.late_frames) == (STREAM, CALL, 0)


@pytest.mark.parametrize("event", [MEDIA, DTMF, MARK])
def test_stream_events_before_start_are_violations(event: dict[str, Any]) -> None:
    with pytest.raises(ProtocolViolation, match="before start"):
        TelnyxMediaStream().parse(json.dumps(event))


# ---- what the bridge sends --------------------------------------------------------------


def test_outbound_needs_a_started_stream() -> None:
    stream = TelnyxMediaStream()
    with pytest.raises(StreamNotStarted):
        stream.media(b"x")
    with pytest.raises(StreamNotStarted):
        stream.mark("m")
    with pytest.raises(StreamNotStarted):
        stream.clear()


def test_outbound_frames_match_telnyx_shapes() -> None:
    stream = started()
    assert stream.max_frames_per_message == 25
    assert (stream.supports_marks, stream.supports_clear) == (True, True)
    assert json.loads(stream.media(PAYLOAD)) == {
        "event": "media",
        "media": {"payload": base64.b64encode(PAYLOAD).decode()},
    }
    assert json.loads(stream.mark('utt "3"')) == {"event": "mark", "mark": {"name": 'utt "3"'}}
    assert json.loads(stream.clear()) == {"event": "clear"}


def test_outbound_round_trips_through_the_carrier_side() -> None:
    stream = started()
    telnyx = TelnyxCarrierSide(STREAM, CALL)
    assert telnyx.parse(stream.media(PAYLOAD)) == PlayAudio(PAYLOAD)
    assert telnyx.parse(stream.media(b"")) == PlayAudio(b"")
    longest = bytes(MAX_OUTBOUND_AUDIO_BYTES)
    assert telnyx.parse(stream.media(longest)) == PlayAudio(longest)
    assert telnyx.parse(stream.mark("utt-3")) == PlaceMark("utt-3")
    assert telnyx.parse(stream.clear()) == ClearAudio()


def test_carrier_side_frames_parse_back_on_the_bridge_side() -> None:
    state = encode_client_state({"ticket": "t"})
    telnyx = TelnyxCarrierSide(
        STREAM,
        CALL,
        call_session_id=SESSION,
        from_number="+15550001111",
        to_number="+15550002222",
        client_state=state,
        user_id=USER,
    )
    stream = TelnyxMediaStream()
    assert stream.parse(telnyx.connected()) == Connected("", "1.0.0")
    start = stream.parse(telnyx.start({"leg": "customer"}))
    assert start == Started(STREAM, CALL, USER, {"leg": "customer", "ticket": "t"}, MULAW_8K)
    sent = json.loads(telnyx.start({}))
    assert sent["sequence_number"] == "2"  # one counter for all frames, from 1
    assert sent["start"]["from"] == "+15550001111"
    assert stream.parse(telnyx.media(b"b", chunk=2)) is None  # the simulator reorders
    assert stream.parse(telnyx.media(b"a", chunk=1)) == Media(b"ab", 0, 1)
    assert stream.parse(telnyx.media(b"c")) == Media(b"c", 40, 3)
    assert stream.parse(telnyx.dtmf("#")) == Dtmf("#")
    assert stream.parse(telnyx.mark("m")) == MarkPlayed("m")
    assert stream.parse(telnyx.error("100005", "rate_limit_reached", "slow")) == CarrierWarning(
        "100005", "rate_limit_reached: slow"
    )
    assert stream.parse(telnyx.stop()) == Stopped()
    assert json.loads(telnyx.stop())["sequence_number"] == "10"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (b"binary", MALFORMED_FRAME),
        ("nope", MALFORMED_FRAME),
        ("[]", MALFORMED_FRAME),
        ('{"event": "pause"}', MALFORMED_FRAME),
        ('{"media": {"payload": ""}}', MALFORMED_FRAME),
        ('{"event": "media"}', MALFORMED_FRAME),
        ('{"event": "media", "media": {}}', MALFORMED_FRAME),
        ('{"event": "media", "media": {"payload": 5}}', MALFORMED_FRAME),
        ('{"event": "mark"}', MALFORMED_FRAME),
        ('{"event": "mark", "mark": {"name": 3}}', MALFORMED_FRAME),
        ('{"event": "media", "media": {"payload": "!"}}', INVALID_MEDIA),
        ('{"event": "media", "media": {"payload": "AAA"}}', INVALID_MEDIA),
        (json.dumps({"event": "media", "media": {"payload": "A" * 320_004}}), INVALID_MEDIA),
        (json.dumps({"event": "clear", "pad": "x" * 1_100_000}), MALFORMED_FRAME),
    ],
)
def test_carrier_side_rejects_what_telnyx_rejects(message: str | bytes, code: int) -> None:
    with pytest.raises(ProtocolViolation) as caught:
        TelnyxCarrierSide(STREAM, CALL).parse(message)
    assert caught.value.code == code
    assert str(caught.value.code) in ("100003", "100004")  # Telnyx's spelling


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
    seeds = [json.dumps(m) for m in (CONNECTED, START, MEDIA, DTMF, MARK, ERROR, STOP)]
    for _ in range(5000):
        stream = started() if rng.random() < 0.7 else TelnyxMediaStream()
        telnyx = TelnyxCarrierSide(STREAM, CALL)
        message = mutations(rng, rng.choice(seeds))
        for parse in (stream.parse, telnyx.parse):
            with contextlib.suppress(ProtocolViolation):
                parse(message)
