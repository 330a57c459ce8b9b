"""Kallglot stream messages, both protocol generations: any input is one event, never an exception.

`protocol_for(version).parse` reads what the Kallglot server sends on the stream. Its contract is
total (bridge/kallglot/parsing.py): an event, `Unknown` for a well-formed message of another
type, `Malformed` with a reason for anything unreadable. Its last line of defence turns a parser
bug into `Malformed("unreadable message (...)")`; the fuzzer treats reaching that line as a bug,
since it means a field's shape was not checked where it is read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bridge.audio.formats import SUPPORTED_RATES, AudioFormat
from bridge.kallglot import messages as m
from bridge.kallglot.config import ProtocolVersion
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
from bridge.kallglot.parsing import ENCODING_KEYS, PAYLOAD_KEYS, RATE_KEYS, TARGET_KEYS
from bridge.kallglot.protocol import protocol_for
from bridge.sim.kallglot_stream import _read_audio
from tests.fuzz.conftest import FUZZ, ROUNDTRIP
from tests.fuzz.genome import Genome, frame
from tests.fuzz.strategies import b64, genomes, text

VERSIONS = (ProtocolVersion.CURRENT, ProtocolVersion.LEGACY)
PCM = b64(bytes(range(64)))
# Valid server messages, the richest first and deep fields before `type` (see genome.mutate).
SERVER: list[dict[str, Any]] = [
    {
        "audio": {"payload": b64(bytes(160)), "encoding": "mulaw", "sample_rate_hz": 8000},
        "speaker": "customer",
        "target": "agent",
        "sequence": 7,
        "type": "audio.output",
    },
    {
        "data": PCM,
        "encoding": "pcm_16",
        "sample_rate": 16000,
        "channels": 1,
        "speaker": "agent",
        "listener": "customer",
        "type": "audio",
    },
    {
        "data": {"payload": PCM, "format": "pcm16", "rate": 24000, "to": "agent"},
        "sequence": 1.0,
        "type": "audio.delta",
    },
    {"payload": PCM, "codec": "L16", "sampleRate": 8000, "type": "tts.audio.preview"},
    {
        "translation": {"text": "hello", "language": "en"},
        "text": "hallo",
        "speaker": "customer",
        "language": "de",
        "id": "utt_1",
        "type": "transcript.final",
    },
    {"text": "hal", "translation": "hel", "is_final": False, "type": "transcript"},
    {"text": "hal", "speaker": "agent", "type": "transcript.partial"},
    {"error": {"code": "invalid_audio_format", "message": "bad"}, "type": "session.error"},
    {"code": "rate_limited", "message": "slow down", "type": "session.error"},
    {"error": "session_expired", "message": "gone", "type": "session.error"},
    {"session_id": "sess_1", "type": "session.ready"},
    {"session_id": "sess_1", "type": "pong"},
    {"reason": "max_duration", "session_id": "sess_1", "type": "session.ended"},
    {"usage": {"seconds": 3}, "type": "usage.update"},
]
VOCABULARY: list[Any] = [
    *sorted(m.AUDIO_OUTPUT_TYPES),
    m.AUDIO_INPUT,
    m.SESSION_READY,
    m.SESSION_ERROR,
    m.SESSION_ENDED,
    m.TRANSCRIPT_FINAL,
    m.LEGACY_TRANSCRIPT,
    "Audio.Output",
    "my.audio",
    *m.ENCODINGS,
    " MULAW ",
    "opus",
    *sorted(SUPPORTED_RATES),
    7999,
    0,
    10**400,
    "customer",
    "agent",
    2,
]
EXTRA_KEYS = [*PAYLOAD_KEYS, *ENCODING_KEYS, *RATE_KEYS, *TARGET_KEYS, "channels", "audio"]


def check(raw: str | bytes) -> None:
    for version in VERSIONS:
        event = protocol_for(version).parse(raw)
        if isinstance(event, Malformed):
            assert isinstance(event.reason, str)
            assert 0 < len(event.reason) <= 200
            assert not event.reason.startswith("unreadable"), f"parser bug: {event}"
            assert event.type is None or isinstance(event.type, str)
        elif isinstance(event, AudioOutput):
            assert isinstance(event.format, AudioFormat)
            assert event.format.sample_rate in SUPPORTED_RATES
            assert type(event.data) is bytes
            assert len(event.data) % event.format.encoding.bytes_per_sample == 0
            assert event.sequence is None or type(event.sequence) is int
            assert all(v is None or type(v) is str for v in (event.speaker, event.target))
        elif isinstance(event, Transcript):
            assert type(event.text) is str
            assert type(event.final) is bool
            others = (event.speaker, event.language, event.translation_text, event.id)
            assert all(v is None or type(v) is str for v in others)
        elif isinstance(event, SessionError):
            assert type(event.code) is str
            assert event.code
            assert event.message is None or type(event.message) is str
        elif isinstance(event, Unknown):
            assert type(event.type) is str
            assert isinstance(event.raw, Mapping)
            assert event.raw["type"] == event.type
        elif isinstance(event, Ready | Pong):
            assert event.session_id is None or type(event.session_id) is str
        else:
            assert isinstance(event, Ended), event
            assert all(v is None or type(v) is str for v in (event.reason, event.session_id))


@FUZZ
@given(genomes)
def test_any_server_message_is_one_event_and_never_an_exception(genome: bytes) -> None:
    raw = frame(Genome(genome), SERVER, VOCABULARY, EXTRA_KEYS)
    try:
        check(raw)
    except Exception as exc:
        raise AssertionError(f"message {raw[:300]!r}") from exc


@ROUNDTRIP
@given(
    version=st.sampled_from(VERSIONS),
    sent=st.lists(
        st.tuples(
            st.sampled_from(["customer", "agent"]),
            st.binary(max_size=1600),
            st.integers(min_value=0, max_value=2**53),
        ),
        min_size=1,
        max_size=3,
    ),
    first_sequence=st.integers(min_value=1, max_value=2**40),
)
def test_audio_the_bridge_sends_is_read_exactly_by_the_server(
    version: ProtocolVersion, sent: list[tuple[str, bytes, int]], first_sequence: int
) -> None:
    protocol = protocol_for(version, first_sequence)
    legacy = version is ProtocolVersion.LEGACY
    for offset, (speaker, data, stamp) in enumerate(sent):
        data = data[: len(data) - len(data) % protocol.input_format.encoding.bytes_per_sample]
        message = json.loads(protocol.audio(speaker, data, stamp))
        assert _read_audio(message, legacy) == (
            speaker,
            protocol.input_format,
            data,
            first_sequence + offset,
        )
        assert message["timestamp_ms"] == stamp
    assert protocol.last_sequence == first_sequence + len(sent) - 1
    assert json.loads(protocol.end())["type"] == (m.LEGACY_END if legacy else m.SESSION_END)


# Built once: a strategy constructed inside a composite is re-validated on every draw.
encoding_names = st.sampled_from(sorted(m.ENCODINGS))
spellings = st.sampled_from([str, str.upper, " {}".format, "{}\n".format, str.title])
rates = st.none() | st.sampled_from(sorted(SUPPORTED_RATES))
payloads = st.binary(max_size=960)
speakers = st.none() | st.sampled_from(["customer", "agent"])
targets = st.none() | text.filter(bool)
sequences = st.none() | st.integers(min_value=0, max_value=2**53)
output_types = st.sampled_from(sorted(m.AUDIO_OUTPUT_TYPES))
layouts = st.sampled_from(["audio", "data", "flat"])
flat_payload_keys = st.sampled_from(["payload", "data", "audio"])
payload_keys = st.sampled_from(PAYLOAD_KEYS)
encoding_keys = st.sampled_from(ENCODING_KEYS)
rate_keys = st.sampled_from(RATE_KEYS)
target_keys = st.sampled_from(TARGET_KEYS)


@st.composite
def audio_outputs(draw: st.DrawFn) -> tuple[dict[str, Any], AudioOutput]:
    """A translated-audio message in any of the shapes the parser promises to read (encoding
    names in any case and with stray whitespace)."""
    name = draw(encoding_names)
    encoding = m.ENCODINGS[name]
    rate = draw(rates)
    fmt = AudioFormat(encoding, m.DEFAULT_RATES[encoding] if rate is None else rate)
    data = draw(payloads)
    data = data[: len(data) - len(data) % encoding.bytes_per_sample]
    fields: dict[str, Any] = {draw(encoding_keys): draw(spellings)(name)}
    if rate is not None:
        fields[draw(rate_keys)] = rate
    speaker, target, sequence = draw(speakers), draw(targets), draw(sequences)
    message: dict[str, Any] = {"type": draw(output_types)}
    layout = draw(layouts)
    if layout == "flat":
        fields[draw(flat_payload_keys)] = b64(data)
        message.update(fields)
    else:
        fields[draw(payload_keys)] = b64(data)
        message[layout] = fields
    holder = message[layout] if layout != "flat" and draw(st.booleans()) else message
    if target is not None:
        holder[draw(target_keys)] = target
    if speaker is not None:
        message["speaker"] = speaker
    if sequence is not None:
        message["sequence"] = sequence
    return message, AudioOutput(speaker, target, fmt, data, sequence)


@ROUNDTRIP
@given(audio_outputs(), st.sampled_from(VERSIONS))
def test_translated_audio_in_every_documented_shape_parses_to_the_same_audio(
    case: tuple[dict[str, Any], AudioOutput], version: ProtocolVersion
) -> None:
    message, expected = case
    assert protocol_for(version).parse(json.dumps(message)) == expected


def test_regression_an_empty_error_string_is_an_unknown_code_not_an_empty_one() -> None:
    """Found by the fuzzer: `{"error": ""}` gave SessionError(code=""), while every other
    shape without a code says "unknown"; an empty code makes a useless log line."""
    event = protocol_for(ProtocolVersion.CURRENT).parse('{"type":"session.error","error":""}')
    assert event == SessionError("unknown", None)


def test_regression_an_absurd_sample_rate_does_not_put_its_digits_in_the_log() -> None:
    """Found while fuzzing (the contract bounds a reason's length; the generated cases rarely
    put a huge integer in a rate field, so it is pinned here): a 4 000-digit `sample_rate_hz`
    became a 4 KB Malformed reason, which the stream logs; every other reason quotes at most a
    short prefix."""
    raw = '{"type":"audio.output","audio":{"payload":"","sample_rate_hz":' + "9" * 4000 + "}}"
    event = protocol_for(ProtocolVersion.CURRENT).parse(raw)
    assert event == Malformed("absurd sample rate", "audio.output")
