"""The one interface every carrier's media stream implements, and the events it produces.

A carrier's media-stream module is sans-I/O: it turns the frames its WebSocket delivers into
typed events and builds the frames we send back (text or binary, as the carrier wants them). The network shell (bridge/web) owns the socket; tests and the
fuzzer feed strings. That split is what lets one bad message on one leg end as a
`ProtocolViolation` for that leg instead of an exception somewhere in the event loop.

The same module also defines what the *carrier* sees from us (`PlayAudio`, `PlaceMark`,
`ClearAudio`), because our simulators parse those with the carrier module's own definitions.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

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
    """The stream belongs to the carrier's call `call_id`; `custom_parameters` carry what our
    answer put there (the call ticket), however the carrier delivers it."""

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


@dataclass(frozen=True, slots=True)
class CarrierWarning:
    """The carrier reports a problem with what we sent (Telnyx `error` frames): logged, not
    fatal; `code` is the carrier's own."""

    code: str
    message: str


Event = Connected | Started | Media | Dtmf | MarkPlayed | Stopped | CarrierWarning


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
    network shell stays a dumb loop: `parse` every frame, act on the event, send the frames
    `media`/`mark`/`clear` return (a `str` goes as a text frame, `bytes` as a binary one).

    Marks and clear are capabilities. A carrier without marks (`supports_marks` False) never
    gets one: playout then counts what it sent as heard, so `frames_heard` equals `frames_sent`
    and is an estimate ahead of the truth by at most the playout lead. Without `clear`, queued
    audio at the carrier plays out (only the bridge's own queue can be dropped).
    """

    @property
    def supports_marks(self) -> bool:
        return True

    @property
    def supports_clear(self) -> bool:
        return True

    @property
    def heartbeat_s(self) -> float | None:
        """How often to ping the peer, for a peer whose network may vanish without a close
        (a browser on Wi-Fi): the leg ends when a pong is half this late. None: carriers, whose
        media never pauses and whose hang-ups come as webhooks."""
        return None

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
    def media(self, audio: bytes) -> str | bytes:
        """A frame that queues `audio` (whole 20 ms frames, in `media_format`) for playback."""

    def mark(self, name: str) -> str | bytes:
        """A frame asking the carrier to echo `name` once everything queued before has played
        (only where `supports_marks`)."""
        raise NotImplementedError(f"{type(self).__name__} has no marks")

    def clear(self) -> str | bytes:
        """A frame that drops everything queued at the carrier (only where `supports_clear`)."""
        raise NotImplementedError(f"{type(self).__name__} has no clear")


class CarrierMediaStream(MediaStreamProtocol):
    """What every phone carrier's stream keeps: the audio format agreed for it, and, from its
    start message on, the carrier's id for the stream (`_stream_id`, None until then).

    Subclasses set `_format` and `_stream_id` in their `__init__`, and `FRAMES_PER_MESSAGE` to
    what their carrier plays in one message.
    """

    FRAMES_PER_MESSAGE: ClassVar[int] = 1
    _format: AudioFormat
    _stream_id: str | None

    @property
    def media_format(self) -> AudioFormat:
        return self._format

    @property
    def max_frames_per_message(self) -> int:
        return self.FRAMES_PER_MESSAGE

    @property
    def started(self) -> bool:
        return self._stream_id is not None

    @property
    def stream_id(self) -> str | None:
        return self._stream_id
