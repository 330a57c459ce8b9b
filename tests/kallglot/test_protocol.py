"""Client messages of both protocol generations, and the sequence that never restarts."""

from __future__ import annotations

import base64
import json

import pytest

from bridge.audio import MULAW_8K, PCM16_16K
from bridge.kallglot.config import ProtocolVersion
from bridge.kallglot.events import Ready
from bridge.kallglot.protocol import CurrentProtocol, LegacyProtocol, protocol_for


def test_current_audio_input_is_mulaw_8k_base64_with_a_rising_sequence() -> None:
    protocol = protocol_for(ProtocolVersion.CURRENT)

    first = json.loads(protocol.audio("customer", b"\x01\x02", 1730000000123))
    second = json.loads(protocol.audio("agent", b"\x03", 1730000000223))

    assert first == {
        "type": "audio.input",
        "sequence": 1,
        "timestamp_ms": 1730000000123,
        "speaker": "customer",
        "audio": {"encoding": "mulaw", "sample_rate_hz": 8000, "payload": "AQI="},
    }
    assert (second["sequence"], second["speaker"]) == (2, "agent")
    assert protocol.last_sequence == 2
    assert protocol.input_format == MULAW_8K
    assert protocol.ready_on_open is False
    assert json.loads(protocol.ping()) == {"type": "ping"}
    assert json.loads(protocol.end()) == {"type": "session.end"}


def test_legacy_audio_is_pcm16_16k_under_data() -> None:
    protocol = protocol_for(ProtocolVersion.LEGACY)

    message = json.loads(protocol.audio("agent", b"\x00\x01\x02\x03", 5))

    assert isinstance(protocol, LegacyProtocol)
    assert message["type"] == "audio"
    assert base64.b64decode(message["data"]) == b"\x00\x01\x02\x03"
    assert (message["encoding"], message["sample_rate"], message["channels"]) == (
        "pcm_16",
        16000,
        1,
    )
    assert message["speaker"] == "agent"
    assert protocol.input_format == PCM16_16K
    assert protocol.ready_on_open is True
    assert protocol.ping() is None  # OLD has no ping message: WebSocket ping frames instead
    assert json.loads(protocol.end()) == {"type": "end"}


def test_sequence_can_continue_from_a_given_number() -> None:
    protocol = CurrentProtocol(first_sequence=1000)

    assert json.loads(protocol.audio("customer", b"x", 0))["sequence"] == 1000


def test_both_protocols_parse_the_same_server_messages() -> None:
    ready = '{"type": "session.ready", "session_id": "sess_1"}'

    assert protocol_for(ProtocolVersion.CURRENT).parse(ready) == Ready("sess_1")
    assert protocol_for(ProtocolVersion.LEGACY).parse(ready) == Ready("sess_1")


@pytest.mark.parametrize("speaker", ["customer", "", 'quo"te\\', "Zoë \u2028 \U0001f600"])
def test_audio_templates_write_exactly_what_json_dumps_would(speaker: str) -> None:
    data, stamp = bytes(range(256)) * 4, 1730000000123
    payload = base64.b64encode(data).decode()
    current = {
        "type": "audio.input",
        "sequence": 7,
        "timestamp_ms": stamp,
        "speaker": speaker,
        "audio": {"encoding": "mulaw", "sample_rate_hz": 8000, "payload": payload},
    }
    legacy = {
        "type": "audio",
        "sequence": 7,
        "timestamp_ms": stamp,
        "speaker": speaker,
        "data": payload,
        "encoding": "pcm_16",
        "sample_rate": 16000,
        "channels": 1,
    }
    for protocol, expected in ((CurrentProtocol(7), current), (LegacyProtocol(7), legacy)):
        text = protocol.audio(speaker, data, stamp)
        assert text == json.dumps(expected, separators=(",", ":"))
