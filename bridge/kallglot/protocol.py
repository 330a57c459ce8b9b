"""The stream protocol without sockets: client messages built as text, server text parsed to events.

Two generations exist (kallglot-api.md §4). `CurrentProtocol` speaks NEW (`audio.input`, mu-law
8 kHz, wait for `session.ready`); `LegacyProtocol` speaks OLD (`audio` with pcm_16 16 kHz, `end`,
the open socket is ready). Parsing is the same tolerant function for both, since a server of
either generation may send either shape.

One protocol object lives as long as the session's stream, across reconnects, so `sequence` never
restarts: a server that orders or deduplicates by it sees one monotonically increasing series.

Audio messages (ten a second per leg) are filled-in templates rather than `json.dumps` of a dict:
the same text for a fraction of the cost (tests hold the two equal).
"""

from __future__ import annotations

import binascii
import functools
import json
from typing import Any, ClassVar

from bridge.audio import MULAW_8K, PCM16_16K, AudioFormat
from bridge.kallglot import messages as m
from bridge.kallglot.config import ProtocolVersion
from bridge.kallglot.events import ServerEvent
from bridge.kallglot.parsing import parse_server_message


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


@functools.lru_cache(maxsize=64)
def _quote(text: str) -> str:
    """`text` as a JSON string; speakers are a few names, so each is escaped once."""
    return json.dumps(text)


class StreamProtocol:
    version: ClassVar[ProtocolVersion]
    input_format: ClassVar[AudioFormat]
    # True when the socket is usable as soon as it opens (no `session.ready` to wait for).
    ready_on_open: ClassVar[bool]

    def __init__(self, first_sequence: int = 1) -> None:
        self._next_sequence = first_sequence

    @property
    def last_sequence(self) -> int:
        """The sequence of the last audio message built (first_sequence - 1 before any)."""
        return self._next_sequence - 1

    def audio(self, speaker: str, data: bytes, timestamp_ms: int) -> str:
        """An audio message for `data` (in `input_format`), with the next sequence number."""
        sequence = self._next_sequence
        self._next_sequence += 1
        payload = binascii.b2a_base64(data, newline=False).decode("ascii")
        return self._audio(sequence, _quote(speaker), payload, timestamp_ms)

    def _audio(self, sequence: int, speaker_json: str, payload: str, timestamp_ms: int) -> str:
        raise NotImplementedError

    def ping(self) -> str | None:
        """The keep-alive message, or None when the protocol uses WebSocket ping frames."""
        return None

    def end(self) -> str:
        raise NotImplementedError

    def parse(self, raw: str | bytes) -> ServerEvent:
        return parse_server_message(raw)


class CurrentProtocol(StreamProtocol):
    version = ProtocolVersion.CURRENT
    input_format = MULAW_8K
    ready_on_open = False

    def _audio(self, sequence: int, speaker_json: str, payload: str, timestamp_ms: int) -> str:
        return (
            f'{{"type":"{m.AUDIO_INPUT}","sequence":{sequence},"timestamp_ms":{timestamp_ms},'
            f'"speaker":{speaker_json},"audio":{{"encoding":"mulaw","sample_rate_hz":8000,'
            f'"payload":"{payload}"}}}}'
        )

    def ping(self) -> str:
        return _dumps({"type": m.PING})

    def end(self) -> str:
        return _dumps({"type": m.SESSION_END})


class LegacyProtocol(StreamProtocol):
    """OLD messages. `speaker`, `sequence` and `timestamp_ms` are NEW fields added because the
    bridge multiplexes two parties on one socket; an OLD server ignores fields it does not know.
    OLD documents no ping message, so keep-alive uses WebSocket ping frames."""

    version = ProtocolVersion.LEGACY
    input_format = PCM16_16K
    ready_on_open = True

    def _audio(self, sequence: int, speaker_json: str, payload: str, timestamp_ms: int) -> str:
        return (
            f'{{"type":"{m.LEGACY_AUDIO}","sequence":{sequence},"timestamp_ms":{timestamp_ms},'
            f'"speaker":{speaker_json},"data":"{payload}","encoding":"pcm_16",'
            f'"sample_rate":16000,"channels":1}}'
        )

    def end(self) -> str:
        return _dumps({"type": m.LEGACY_END})


def protocol_for(version: ProtocolVersion, first_sequence: int = 1) -> StreamProtocol:
    cls: type[StreamProtocol] = (
        CurrentProtocol if version is ProtocolVersion.CURRENT else LegacyProtocol
    )
    return cls(first_sequence)
