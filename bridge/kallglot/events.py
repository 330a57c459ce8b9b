"""What the stream tells its owner: frozen values, one class per thing that can happen.

Parser events (`Ready` .. `Malformed`) come from one server message each. Connection events
(`Reconnected`, `StreamFailed`) come from the stream's own supervision. `Ended` and `StreamFailed`
are terminal: `KallglotStream.events()` stops after them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.audio import AudioFormat


@dataclass(frozen=True, slots=True)
class Ready:
    session_id: str | None


@dataclass(frozen=True, slots=True)
class Pong:
    session_id: str | None


@dataclass(frozen=True, slots=True)
class AudioOutput:
    """Translated speech. `speaker` is whose speech it is; `target` who should hear it, if said."""

    speaker: str | None
    target: str | None
    format: AudioFormat
    data: bytes = field(repr=False)
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    speaker: str | None
    text: str
    final: bool
    language: str | None = None
    translation_text: str | None = None
    translation_language: str | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionError:
    """`session.error`: the session continues; the message that caused it was not accepted."""

    code: str
    message: str | None


@dataclass(frozen=True, slots=True)
class Ended:
    reason: str | None
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class Unknown:
    """A well-formed message of a type we do not know: log it and carry on."""

    type: str
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Malformed:
    """A message we could not read (bad JSON, wrong field types, bad base64): never fatal."""

    reason: str
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Reconnected:
    attempts: int
    downtime_s: float


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """Terminal: the stream is gone for good and the call should end."""

    reason: str


ServerEvent = Ready | Pong | AudioOutput | Transcript | SessionError | Ended | Unknown | Malformed
StreamEvent = (
    AudioOutput
    | Transcript
    | SessionError
    | Ended
    | Unknown
    | Malformed
    | Reconnected
    | StreamFailed
)
