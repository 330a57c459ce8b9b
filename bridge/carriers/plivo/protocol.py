"""Plivo audio streams (bidirectional), both ends of the socket (carriers.md §6.1).

`PlivoMediaStream` is the bridge's end; `PlivoCarrierSide` is Plivo's, used by our simulator,
so every frame has one definition. Where Plivo differs from Twilio:
- camelCase, with counters as ints or strings; no `connected` and no `stop` frame (the socket's
  close ends the stream);
- the stream parameters arrive as `extra_headers`, a JSON *string*, with our ticket encoded in
  letters and digits (extra_headers.py);
- audio is mu-law or little-endian L16 as the `<Stream contentType>` asked, and `playAudio`
  names its format on every message (Plivo refuses one that differs from the stream's);
- a mark is a `checkpoint`, echoed as `playedStream`; `clearAudio` is acknowledged with
  `clearedAudio`, which says nothing the bridge needs.
Nothing here logs; `parse` raises ProtocolViolation and nothing else (fuzzed).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from bridge.audio.formats import AudioFormat, Encoding
from bridge.carriers import frames
from bridge.carriers.base import (
    CarrierMediaStream,
    ClearAudio,
    Command,
    Event,
    MarkPlayed,
    Media,
    PlaceMark,
    PlayAudio,
    ProtocolViolation,
    Started,
    StreamNotStarted,
)
from bridge.carriers.plivo import extra_headers

MAX_FRAME_CHARS = 64 * 1024
MAX_INBOUND_PAYLOAD_CHARS = 16 * 1024  # 20 ms of L16 at 16 kHz is 856 characters
MAX_FRAMES_PER_MESSAGE = 25  # Plivo plays payloads of any length; 500 ms keeps messages small
MAX_OUTBOUND_FRAME_CHARS = 1024 * 1024
MAX_OUTBOUND_PAYLOAD_CHARS = 512 * 1024
MAX_ID_CHARS = 256
MAX_NAME_CHARS = 256
DTMF_DIGITS = frames.DTMF_DIGITS
ENCODINGS = {Encoding.MULAW: "audio/x-mulaw", Encoding.PCM16LE: "audio/x-l16"}
# Plivo documents no error codes for refused frames; these are the simulator's, so a test can
# tell a shapeless frame from audio in the wrong format.
INVALID_FRAME = 4000
WRONG_AUDIO = 4001


def _brief(value: object) -> str:
    """A peer's value fit for a reason: short, and never a container's (deep) repr."""
    if isinstance(value, list | dict):
        return "a list or an object"
    shown = repr(value)
    return shown if len(shown) <= 20 else shown[:17] + "..."


class PlivoMediaStream(CarrierMediaStream):
    """The bridge's end of one Plivo audio stream, in the format the `<Stream>` asked for."""

    FRAMES_PER_MESSAGE = MAX_FRAMES_PER_MESSAGE

    def __init__(
        self, audio: AudioFormat, on_start: Callable[[str, str], None] | None = None
    ) -> None:
        """`on_start(request_id, call_uuid)` runs when a dialled leg's stream starts: the
        carrier learns which live call its dial became."""
        self._format = audio
        self._on_start = on_start
        self._content_type = ENCODINGS[audio.encoding]
        self._stream_id: str | None = None
        self.call_uuid: str | None = None  # Plivo's CallUUID (start.callId)
        self.request_id: str | None = None  # a dialled leg's request_uuid, from our headers

    def parse(self, message: str | bytes) -> Event | None:
        msg = frames.load(message, MAX_FRAME_CHARS, None, carrier="Plivo", binary_code=None)
        event = msg.get("event")
        frames.counter(msg.get("sequenceNumber"), "sequenceNumber")
        if event == "media":  # the hot path first
            self._check_stream(msg, "media")
            media = frames.field_object(msg, "media")
            track = media.get("track", "inbound")
            if track != "inbound":
                if type(track) is not str:
                    raise ProtocolViolation("'track' is not a string")
                return None
            payload = frames.audio(frames.field_string(media, "payload"), MAX_INBOUND_PAYLOAD_CHARS)
            if len(payload) % self._format.encoding.bytes_per_sample:
                raise ProtocolViolation("payload is not whole 16-bit samples")
            chunk = frames.counter(media.get("chunk"), "chunk")
            return Media(payload, frames.counter(media.get("timestamp"), "timestamp"), chunk)
        if type(event) is not str:
            raise ProtocolViolation("'event' is missing or not a string")
        if event == "start":
            return self._start(msg)
        if event == "playedStream":
            self._check_stream(msg, event)
            name = frames.field_string(msg, "name")
            if len(name) > MAX_NAME_CHARS:
                raise ProtocolViolation("playedStream name is too long")
            return MarkPlayed(name)
        if event == "dtmf":
            self._check_stream(msg, event)
            return frames.dtmf(msg)
        if event == "clearedAudio":
            self._check_stream(msg, event)
        return None  # clearedAudio, and events Plivo may add: not a reason to drop the call

    def _check_stream(self, msg: Mapping[str, Any], event: str) -> None:
        if self._stream_id is None:
            raise ProtocolViolation(f"{event} before start")
        if msg.get("streamId", self._stream_id) != self._stream_id:
            raise ProtocolViolation(f"{event} for another streamId")

    def _start(self, msg: Mapping[str, Any]) -> Started:
        if self._stream_id is not None:
            raise ProtocolViolation("second start on one stream")
        start = frames.field_object(msg, "start")
        stream_id, call_id = (
            frames.field_string(start, "streamId"),
            frames.field_string(start, "callId"),
        )
        if not 0 < len(stream_id) <= MAX_ID_CHARS or not 0 < len(call_id) <= MAX_ID_CHARS:
            raise ProtocolViolation("start has an empty or oversized streamId/callId")
        account = start.get("accountId", "")
        if type(account) is not str or len(account) > MAX_ID_CHARS:
            raise ProtocolViolation("'accountId' is not a string of at most 256 characters")
        self._check_format(frames.field_object(start, "mediaFormat"))
        params = extra_headers.from_start(msg.get("extra_headers", start.get("extra_headers")))
        self.request_id = params.pop(extra_headers.REQUEST_ID, None)
        self._stream_id, self.call_uuid = stream_id, call_id
        if self.request_id is not None and self._on_start is not None:
            self._on_start(self.request_id, call_id)
        # A dialled leg is known by its request id from the dial on; the stream says the same.
        leg_id = self.request_id or call_id
        return Started(stream_id, leg_id, account, MappingProxyType(params), self._format)

    def _check_format(self, fmt: Mapping[str, Any]) -> None:
        encoding, rate = fmt.get("encoding"), fmt.get("sampleRate")
        if (
            encoding != self._content_type
            or type(rate) is not int
            or rate != self._format.sample_rate
        ):
            raise ProtocolViolation(
                f"stream format {_brief(encoding)}/{_brief(rate)} is not the "
                f"{self._content_type};rate={self._format.sample_rate} the bridge asked for "
                "(PLIVO_CONTENT_TYPE)"
            )

    def _require_start(self) -> str:
        if self._stream_id is None:
            raise StreamNotStarted("no Plivo stream yet: wait for start before sending")
        return self._stream_id

    def media(self, audio: bytes) -> str:
        self._require_start()
        payload = binascii.b2a_base64(audio, newline=False).decode()
        return (
            '{"event":"playAudio","media":{"contentType":"'
            + self._content_type
            + '","sampleRate":'
            + str(self._format.sample_rate)
            + ',"payload":"'
            + payload
            + '"}}'
        )

    def mark(self, name: str) -> str:
        stream_id = self._require_start()
        return json.dumps({"event": "checkpoint", "streamId": stream_id, "name": name})

    def clear(self) -> str:
        stream_id = self._require_start()
        return json.dumps({"event": "clearAudio", "streamId": stream_id})


class PlivoCarrierSide:
    """Plivo's end of one stream: the frames Plivo sends, and Plivo's checks on ours
    (`parse` refuses what Plivo refuses: binary or shapeless frames, unknown events, audio
    whose contentType/sampleRate is not the stream's, payloads that are not base64 or not
    whole samples)."""

    def __init__(self, stream_id: str, call_id: str, account_id: str, audio: AudioFormat) -> None:
        self.stream_id, self.call_id, self.account_id = stream_id, call_id, account_id
        self.audio = audio
        self.content_type = ENCODINGS[audio.encoding]
        self.sequence_number = 0
        self._chunk = 0

    def _frame(self, event: str, body: dict[str, Any], stream: bool = True) -> str:
        self.sequence_number += 1
        head: dict[str, Any] = {"event": event, "sequenceNumber": self.sequence_number}
        if stream:
            head["streamId"] = self.stream_id
        return json.dumps(head | body)

    def start(self, headers: Mapping[str, str]) -> str:
        start = {
            "callId": self.call_id,
            "streamId": self.stream_id,
            "accountId": self.account_id,
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": self.content_type, "sampleRate": self.audio.sample_rate},
        }
        body = {"start": start, "extra_headers": json.dumps(dict(headers))}
        return self._frame("start", body, stream=False)

    def media(self, payload: bytes) -> str:
        self._chunk += 1
        media = {
            "track": "inbound",
            "timestamp": str(self._chunk * 20),
            "chunk": self._chunk,
            "payload": binascii.b2a_base64(payload, newline=False).decode(),
        }
        return self._frame("media", {"media": media})

    def dtmf(self, digit: str) -> str:
        timestamp = str(self._chunk * 20)
        return self._frame(
            "dtmf", {"dtmf": {"track": "inbound", "digit": digit, "timestamp": timestamp}}
        )

    def played(self, name: str) -> str:
        return self._frame("playedStream", {"name": name})

    def cleared(self) -> str:
        return self._frame("clearedAudio", {})

    def parse(self, message: str | bytes) -> Command:
        msg = frames.load(
            message,
            MAX_OUTBOUND_FRAME_CHARS,
            INVALID_FRAME,
            carrier="Plivo",
            binary_code=INVALID_FRAME,
        )
        event = msg.get("event")
        if event == "playAudio":
            media = frames.field_object(msg, "media", INVALID_FRAME)
            content_type, rate = media.get("contentType"), media.get("sampleRate")
            if (
                content_type != self.content_type
                or rate != self.audio.sample_rate
                or type(rate) is not int
            ):
                raise ProtocolViolation(
                    f"playAudio in {_brief(content_type)}/{_brief(rate)} on a "
                    f"{self.content_type};rate={self.audio.sample_rate} stream",
                    WRONG_AUDIO,
                )
            payload = frames.field_string(media, "payload", INVALID_FRAME)
            audio = frames.audio(payload, MAX_OUTBOUND_PAYLOAD_CHARS, INVALID_FRAME)
            if len(audio) % self.audio.encoding.bytes_per_sample:
                raise ProtocolViolation(
                    "playAudio payload is not whole 16-bit samples", WRONG_AUDIO
                )
            return PlayAudio(audio)
        if event == "checkpoint":
            self._check_stream(msg)
            return PlaceMark(frames.field_string(msg, "name", INVALID_FRAME))
        if event == "clearAudio":
            self._check_stream(msg)
            return ClearAudio()
        raise ProtocolViolation(f"unknown or missing event {_brief(event)}", INVALID_FRAME)

    def _check_stream(self, msg: Mapping[str, Any]) -> None:
        if msg.get("streamId") != self.stream_id:
            raise ProtocolViolation("streamId missing or not this stream's", INVALID_FRAME)
