"""The tolerant server-message parser: every documented and guessed shape, and hostile input."""

from __future__ import annotations

import base64
import copy
import json
import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.audio import MULAW_8K, PCM16_16K, AudioFormat, Encoding
from bridge.kallglot.events import (
    AudioOutput,
    Ended,
    Malformed,
    Pong,
    Ready,
    SessionError,
    Transcript,
    Unknown,
)
from bridge.kallglot.parsing import _dispatch, _plain_audio_output, parse_server_message

AUDIO = bytes(range(256)) * 2
B64 = base64.b64encode(AUDIO).decode()


def parse(message: Any) -> Any:
    return parse_server_message(json.dumps(message))


@pytest.mark.parametrize(
    ("message", "fmt"),
    [
        # The best reading of the NEW contract: mirrors audio.input.
        (
            {
                "type": "audio.output",
                "audio": {"encoding": "mulaw", "sample_rate_hz": 8000, "payload": B64},
            },
            MULAW_8K,
        ),
        # Flat OLD-style: payload under `data`, format at the top level.
        ({"type": "audio", "data": B64, "encoding": "pcm_16", "sample_rate": 16000}, PCM16_16K),
        ({"type": "audio.response", "payload": B64}, MULAW_8K),
        ({"type": "audio_output", "audio": {"data": B64, "encoding": "ulaw"}}, MULAW_8K),
        ({"type": "translation.audio", "payload": B64, "encoding": "PCMU"}, MULAW_8K),
        (
            {"type": "audio.output", "audio": {"payload": B64}, "encoding": "alaw"},
            AudioFormat(Encoding.ALAW, 8000),
        ),
        ({"type": "audio", "data": B64, "encoding": "pcma"}, AudioFormat(Encoding.ALAW, 8000)),
        ({"type": "audio", "data": B64, "encoding": "linear16"}, PCM16_16K),
        (
            {"type": "audio", "data": B64, "encoding": "pcm16", "sample_rate_hz": 24000},
            AudioFormat(Encoding.PCM16LE, 24000),
        ),
        (
            {"type": "audio", "data": B64, "encoding": "l16", "rate": 8000},
            AudioFormat(Encoding.PCM16BE, 8000),
        ),
        # Undocumented name, recognisable by "audio" and a payload.
        ({"type": "tts.audio.chunk", "payload": B64, "sample_rate": 8000.0}, MULAW_8K),
        ({"type": "audio.output", "data": {"payload": B64}}, MULAW_8K),
    ],
)
def test_every_audio_shape_yields_audio_output(message: dict[str, Any], fmt: AudioFormat) -> None:
    event = parse({**message, "speaker": "customer", "sequence": 7})

    assert isinstance(event, AudioOutput)
    assert event.data == AUDIO
    assert event.format == fmt
    assert event.speaker == "customer"
    assert event.sequence == 7


@pytest.mark.parametrize("key", ["target", "listener", "to", "target_speaker"])
def test_the_listener_is_read_from_any_of_its_names(key: str) -> None:
    event = parse({"type": "audio.output", "speaker": "agent", key: "customer", "payload": B64})

    assert isinstance(event, AudioOutput)
    assert (event.speaker, event.target) == ("agent", "customer")


def test_audio_without_a_listener_keeps_the_speaker_only() -> None:
    event = parse({"type": "audio.output", "speaker": "agent", "payload": B64})

    assert isinstance(event, AudioOutput)
    assert event.target is None


def test_translation_as_an_object() -> None:
    event = parse(
        {
            "type": "transcript.final",
            "speaker": "customer",
            "text": "Guten Tag",
            "language": "de",
            "translation": {"language": "en", "text": "Good day"},
        }
    )

    assert event == Transcript("customer", "Guten Tag", True, "de", "Good day", "en")


def test_translation_as_a_plain_string() -> None:
    event = parse(
        {"type": "transcript.final", "speaker": "agent", "text": "Hi", "translation": "Hallo"}
    )

    assert isinstance(event, Transcript)
    assert (event.translation_text, event.translation_language) == ("Hallo", None)


def test_partial_and_legacy_transcripts() -> None:
    partial = parse({"type": "transcript.partial", "speaker": "customer", "text": "Gut"})
    legacy = parse(
        {"type": "transcript", "id": "seg_1", "speaker": "agent", "text": "x", "is_final": False}
    )
    legacy_final = parse({"type": "transcript", "text": "x", "is_final": True})

    assert isinstance(partial, Transcript)
    assert partial.final is False
    assert isinstance(legacy, Transcript)
    assert (legacy.final, legacy.id) == (False, "seg_1")
    assert isinstance(legacy_final, Transcript)
    assert legacy_final.final is True


def test_control_messages() -> None:
    assert parse({"type": "session.ready", "session_id": "sess_1"}) == Ready("sess_1")
    assert parse({"type": "pong", "session_id": "sess_1"}) == Pong("sess_1")
    assert parse({"type": "session.ended", "session_id": "s", "reason": "explicit_end"}) == Ended(
        "explicit_end", "s"
    )
    assert parse({"type": "session.error", "code": "invalid_audio_format", "message": "m"}) == (
        SessionError("invalid_audio_format", "m")
    )
    assert parse({"type": "session.error", "error": {"code": "c", "message": "m"}}) == SessionError(
        "c", "m"
    )
    assert parse({"type": "session.error"}) == SessionError("unknown", None)


def test_unknown_types_are_not_errors() -> None:
    event = parse({"type": "session.provider.connected", "anything": [1, 2]})

    assert isinstance(event, Unknown)
    assert event.type == "session.provider.connected"
    assert isinstance(parse({"type": "audio.done"}), Unknown)  # mentions audio, carries none


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "not an object"),
        ('{"type": 5}', "type"),
        ('{"text": "x"}', "type"),
        (json.dumps({"type": "audio.output", "payload": "@@@not-base64@@@"}), "base64"),
        (json.dumps({"type": "audio.output", "payload": 17}), "payload"),
        (json.dumps({"type": "audio.output"}), "without a payload"),
        (json.dumps({"type": "audio.output", "payload": B64, "encoding": "opus"}), "opus"),
        (json.dumps({"type": "audio.output", "payload": B64, "sample_rate": 12345}), "12345"),
        (
            json.dumps({"type": "audio.output", "payload": B64, "sample_rate": "8000"}),
            "sample rate",
        ),
        (json.dumps({"type": "audio.output", "payload": B64, "channels": 2}), "mono"),
        (
            json.dumps(
                {"type": "audio", "data": base64.b64encode(b"abc").decode(), "encoding": "pcm_16"}
            ),
            "odd",
        ),
        (json.dumps({"type": "audio.output", "payload": B64, "speaker": 3}), "speaker"),
        (json.dumps({"type": "transcript.final", "text": None}), "text"),
        (json.dumps({"type": "transcript.final", "text": "t", "translation": 5}), "translation"),
        (json.dumps({"type": "transcript", "text": "t", "is_final": "yes"}), "is_final"),
        ("[" * 100_000, "not JSON"),  # deep nesting must not escape as RecursionError
    ],
)
def test_malformed_messages_become_malformed_events(raw: str | bytes, reason: str) -> None:
    event = parse_server_message(raw)

    assert isinstance(event, Malformed)
    assert reason in event.reason


def test_fuzzed_messages_never_raise() -> None:
    rng = random.Random(20261125)
    seeds: list[Any] = [
        {"type": "audio.output", "speaker": "a", "audio": {"encoding": "mulaw", "payload": B64}},
        {"type": "transcript.final", "text": "t", "translation": {"language": "en", "text": "x"}},
        {"type": "session.error", "error": {"code": "c"}},
        {"type": "audio", "data": B64, "encoding": "pcm_16", "sample_rate": 16000},
    ]
    junk: list[Any] = [None, True, -1, 2**70, 1e308, float("nan"), "", "\udcff", [], {}, [[[]]]]
    seen: set[type] = set()
    for _ in range(3000):
        message = json.loads(json.dumps(rng.choice(seeds)))
        for _ in range(rng.randint(1, 3)):
            target = message
            if isinstance(message.get("audio"), dict) and rng.random() < 0.5:
                target = message["audio"]
            key = rng.choice([*target.keys(), "payload", "sample_rate", "target", "channels"])
            target[key] = rng.choice(junk)
        text = json.dumps(message, allow_nan=True)
        if rng.random() < 0.1:
            cut = rng.randrange(len(text))
            text = text[:cut] + rng.choice(["", "\x00", "}", '"']) + text[cut + 1 :]
        seen.add(type(parse_server_message(text)))
        seen.add(type(parse_server_message(text.encode("utf-8", "surrogatepass"))))

    assert Malformed in seen
    assert seen <= {AudioOutput, Transcript, SessionError, Unknown, Malformed}


# -- the direct reading of documented audio.output agrees with the tolerant one --------------

ODD_VALUES = [None, "", "agent", "mulaw", "alaw", "pcm_16", 0, 1, 2, 8000, 8000.0, 16000, True]
ODD_VALUES += [[], {}, B64, B64[:-1], "AAAA====", "Zoë", -1, 2**70]
FIELDS = [
    ("speaker",),
    ("target",),
    ("sequence",),
    ("channels",),
    ("encoding",),
    ("listener",),
    ("payload",),
    ("audio",),
    ("data",),
    ("audio", "payload"),
    ("audio", "encoding"),
    ("audio", "codec"),
    ("audio", "sample_rate_hz"),
    ("audio", "sample_rate"),
    ("audio", "channels"),
    ("audio", "speaker"),
    ("audio", "target"),
    ("audio", "data"),
]
MISSING = object()


def documented_output() -> dict[str, Any]:
    return {
        "type": "audio.output",
        "sequence": 3,
        "speaker": "customer",
        "target": "agent",
        "audio": {"encoding": "mulaw", "sample_rate_hz": 8000, "payload": B64},
    }


@given(
    st.lists(
        st.tuples(st.sampled_from(FIELDS), st.sampled_from([*ODD_VALUES, MISSING])), max_size=4
    )
)
def test_documented_audio_output_read_directly_or_tolerantly_gives_one_event(
    changes: list[tuple[tuple[str, ...], Any]],
) -> None:
    msg = documented_output()
    for path, value in changes:
        parent = msg
        for key in path[:-1]:
            if not isinstance(parent.get(key), dict):
                parent[key] = {}
            parent = parent[key]
        if value is MISSING:
            parent.pop(path[-1], None)
        else:  # a copy: ODD_VALUES' dicts are shared by every example, and later paths write in
            parent[path[-1]] = copy.deepcopy(value)
    text = json.dumps(msg)
    direct = _plain_audio_output(json.loads(text))
    tolerant = _dispatch_or_malformed(json.loads(text))
    if direct is not None:
        assert direct == tolerant
    assert parse_server_message(text) == tolerant


def _dispatch_or_malformed(msg: dict[str, Any]) -> Any:
    try:
        return _dispatch(msg["type"], msg)
    except Exception as exc:
        return Malformed(str(exc), msg["type"])


def test_the_documented_shape_takes_the_direct_path() -> None:
    assert _plain_audio_output(documented_output()) == AudioOutput(
        "customer", "agent", MULAW_8K, AUDIO, 3
    )
