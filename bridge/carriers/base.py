"""The one interface every carrier's media stream implements, and the events it produces.

A carrier module is sans-I/O: it turns the text frames its WebSocket delivers into typed events
and builds the frames we send back. The network shell (bridge/web) owns the socket; tests and the
fuzzer feed strings. That split is what lets one bad message on one leg end as a
`ProtocolViolation` for that leg instead of an exception somewhere in the event loop.

The same module also defines what the *carrier* sees from us (`PlayAudio`, `PlaceMark`,
`ClearAudio`), because our simulators parse those with the carrier module's own definitions.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field

from bridge.audio.formats import AudioFormat


class ProtocolViolation(Exception):
    """The peer sent something the protocol does not allow; `reason` says what, for the log.

    `code` is the carrier's own error number where it has one (Twilio 31950/31951), so the
    simulator can record the warning Twilio itself would have shown in its debugger.
    """

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class StreamNotStarted(RuntimeError):
    """Outbound audio/mark/clear before `start`: there is no stream id to address it to yet.

    A programming error on our side (buffer until `Started`), hence not a ProtocolViolation.
    """


# ---- events: carrier -> bridge ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    """The socket is up; the carrier has not said which call it belongs to yet."""

    protocol: str = ""
    version: str = ""


@dataclass(frozen=True, slots=True)
class Started:
    """The stream belongs to `call_id`; `custom_parameters` carry what our markup put there."""

    stream_id: str
    call_id: str
    account_id: str
    custom_parameters: Mapping[str, str] = field(hash=False)
    media_format: AudioFormat
    tracks: tuple[str, ...] = ("inbound",)


@dataclass(frozen=True, slots=True)
class Media:
    """One chunk of the caller's audio, in the protocol's `media_format`."""

    payload: bytes
    timestamp_ms: int | None = None
    chunk: int | None = None


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class MarkPlayed:
    """Everything queued before mark `name` has played, or was dropped by a clear."""

    name: str


@dataclass(frozen=True, slots=True)
class Stopped:
    """The carrier ended the stream (call over, or redirected); the socket closes next."""


Event = Connected | Started | Media | Dtmf | MarkPlayed | Stopped


# ---- commands: bridge -> carrier (parsed by the carrier side, i.e. our simulators) ----------


@dataclass(frozen=True, slots=True)
class PlayAudio:
    payload: bytes


@dataclass(frozen=True, slots=True)
class PlaceMark:
    name: str


@dataclass(frozen=True, slots=True)
class ClearAudio:
    pass


Command = PlayAudio | PlaceMark | ClearAudio


class MediaStreamProtocol(abc.ABC):
    """One instance per media WebSocket: parses what the carrier sends, builds what we send.

    Stateful only as far as the protocol needs (has the stream started, under which id), so the
    network shell stays a dumb loop: `parse` every text frame, act on the event, send the strings
    `media`/`mark`/`clear` return.
    """

    @property
    @abc.abstractmethod
    def media_format(self) -> AudioFormat:
        """What the carrier sends in `Media` and expects back from `media()`."""

    @property
    @abc.abstractmethod
    def max_frames_per_message(self) -> int:
        """How many 20 ms frames one `media()` message may carry (1: exactly one per message).

        Playout paces and accounts in 20 ms frames either way; a carrier that plays payloads of
        any length lets it send the frames due at one moment as one message, which is one send
        instead of several. A carrier that distorts on anything but single frames says 1.
        """

    @property
    @abc.abstractmethod
    def started(self) -> bool: ...

    @property
    @abc.abstractmethod
    def stream_id(self) -> str | None: ...

    @abc.abstractmethod
    def parse(self, message: str | bytes) -> Event | None:
        """The event in one WebSocket frame; None for events we do not know (not fatal).

        Raises ProtocolViolation, and nothing else, for anything malformed or out of order.
        """

    @abc.abstractmethod
    def media(self, audio: bytes) -> str:
        """A frame that queues `audio` (any length, in `media_format`) for playback."""

    @abc.abstractmethod
    def mark(self, name: str) -> str:
        """A frame asking the carrier to echo `name` once everything queued before has played."""

    @abc.abstractmethod
    def clear(self) -> str:
        """A frame that drops everything queued at the carrier (barge-in)."""
