"""Twilio Media Streams (bidirectional `<Connect><Stream>`), both ends of the socket.

`TwilioMediaStream` is the bridge's end; `TwilioCarrierSide` is Twilio's end, used by our
simulator. Both live here so that every frame has exactly one definition (carriers.md §1.3/§1.4).

Hot path: about 50 frames a second per leg in each direction, hundreds of legs per core. Parsing
a media frame costs one `json.loads` and one strict base64 decode; building one is string
concatenation around a prefix prepared once per stream. Nothing here logs.

Signatures, public URLs and TwiML live in `signature` and `twiml` beside this module; the
package re-exports all of them.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from bridge.audio.formats import MULAW_8K
from bridge.carriers import frames
from bridge.carriers.base import (
    CarrierMediaStream,
    ClearAudio,
    Command,
    Connected,
    Event,
    MarkPlayed,
    Media,
    PlaceMark,
    PlayAudio,
    ProtocolViolation,
    Started,
    Stopped,
    StreamNotStarted,
)

# Twilio's frames are ~300 characters; 64 KiB is what hardened Twilio examples allow per message.
MAX_FRAME_CHARS = 64 * 1024
# Base64 characters in one inbound payload: 20 ms is 216, so this is ~1.5 s, far beyond normal.
MAX_INBOUND_PAYLOAD_CHARS = 16 * 1024
# What the carrier side accepts from us in one frame (Twilio buffers up to ~10 minutes in total).
MAX_OUTBOUND_FRAME_CHARS = 1024 * 1024
# Twilio plays a payload of any length (carriers.md §1.4); 500 ms keeps each message ~5 kB.
MAX_FRAMES_PER_MESSAGE = 25
DTMF_DIGITS = frames.DTMF_DIGITS
MEDIA_FORMAT = {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}

# Twilio's debugger codes for frames it drops (carriers.md §1.4).
BINARY_FRAME = 31950
INVALID_MESSAGE = 31951


class TwilioMediaStream(CarrierMediaStream):
    """The bridge's end of one Twilio media WebSocket."""

    FRAMES_PER_MESSAGE = MAX_FRAMES_PER_MESSAGE

    def __init__(self) -> None:
        self._stream_id: str | None = None
        self._format = MULAW_8K
        self._call_id: str | None = None
        self._media_prefix = ""
        self._clear_frame = ""

    @property
    def call_id(self) -> str | None:
        return self._call_id

    def parse(self, message: str | bytes) -> Event | None:
        msg = frames.load(
            message, MAX_FRAME_CHARS, None, carrier="Twilio", binary_code=BINARY_FRAME
        )
        event = msg.get("event")
        if event == "media":  # the hot path first
            self._check_stream(msg, "media")
            media = frames.field_object(msg, "media")
            payload = frames.audio(frames.field_string(media, "payload"), MAX_INBOUND_PAYLOAD_CHARS)
            return Media(
                payload,
                frames.counter(media.get("timestamp"), "timestamp"),
                frames.counter(media.get("chunk"), "chunk"),
            )
        if type(event) is not str:
            raise ProtocolViolation("'event' is missing or not a string")
        if event == "start":
            return self._start(msg)
        if event == "mark":
            self._check_stream(msg, "mark")
            return MarkPlayed(frames.field_string(frames.field_object(msg, "mark"), "name"))
        if event == "dtmf":
            self._check_stream(msg, "dtmf")
            return frames.dtmf(msg)
        if event == "stop":
            if self._stream_id is not None and msg.get("streamSid") != self._stream_id:
                raise ProtocolViolation("stop for another streamSid")
            return Stopped()
        if event == "connected":
            if self._stream_id is not None:
                raise ProtocolViolation("connected after start")
            protocol, version = msg.get("protocol"), msg.get("version")
            return Connected(
                protocol if type(protocol) is str else "", version if type(version) is str else ""
            )
        return None  # Twilio may add events; an unknown one is not a reason to drop the call

    def _check_stream(self, msg: Mapping[str, Any], event: str) -> None:
        if self._stream_id is None:
            raise ProtocolViolation(f"{event} before start")
        if msg.get("streamSid") != self._stream_id:
            raise ProtocolViolation(f"{event} for another streamSid")

    def _start(self, msg: Mapping[str, Any]) -> Started:
        if self._stream_id is not None:
            raise ProtocolViolation("second start on one stream")
        start = frames.field_object(msg, "start")
        stream_id, call_id = (
            frames.field_string(start, "streamSid"),
            frames.field_string(start, "callSid"),
        )
        account_id = frames.field_string(start, "accountSid")
        if not stream_id or not call_id or len(stream_id) > 64 or len(call_id) > 64:
            raise ProtocolViolation("start has an empty or oversized streamSid/callSid")
        if msg.get("streamSid", stream_id) != stream_id:
            raise ProtocolViolation("start names two different streamSids")
        fmt = frames.field_object(start, "mediaFormat")
        if fmt != MEDIA_FORMAT or any(type(v) is bool for v in fmt.values()):
            raise ProtocolViolation("mediaFormat is not audio/x-mulaw, 8000 Hz, mono")
        tracks = start.get("tracks", ["inbound"])
        if type(tracks) is not list or not all(type(t) is str for t in tracks):
            raise ProtocolViolation("'tracks' is not a list of strings")
        params = start.get("customParameters", {})
        if type(params) is not dict or not all(type(v) is str for v in params.values()):
            raise ProtocolViolation("'customParameters' is not an object of strings")
        self._stream_id, self._call_id = stream_id, call_id
        sid = json.dumps(stream_id)
        self._media_prefix = f'{{"event":"media","streamSid":{sid},"media":{{"payload":"'
        self._clear_frame = f'{{"event":"clear","streamSid":{sid}}}'
        return Started(
            stream_id, call_id, account_id, MappingProxyType(params), MULAW_8K, tuple(tracks)
        )

    def _require_start(self) -> str:
        if self._stream_id is None:
            raise StreamNotStarted("no Twilio stream yet: wait for start before sending")
        return self._stream_id

    def media(self, audio: bytes) -> str:
        self._require_start()
        return self._media_prefix + binascii.b2a_base64(audio, newline=False).decode() + '"}}'

    def mark(self, name: str) -> str:
        sid = self._require_start()
        return json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": name}})

    def clear(self) -> str:
        self._require_start()
        return self._clear_frame


class TwilioCarrierSide:
    """Twilio's end of one media stream: the frames Twilio sends and Twilio's checks on ours.

    `parse` is as strict as Twilio's validation (carriers.md §1.4): binary frames (31950),
    non-JSON, unknown events, missing or extra fields and a wrong streamSid (31951) raise a
    ProtocolViolation carrying that code; Twilio drops such a frame and logs a warning.
    """

    def __init__(self, stream_sid: str, call_sid: str, account_sid: str) -> None:
        self.stream_sid, self.call_sid, self.account_sid = stream_sid, call_sid, account_sid
        self._sequence = 0
        self._chunk = 0

    def _frame(self, event: str, body: dict[str, Any]) -> str:
        self._sequence += 1
        head = {"event": event, "sequenceNumber": str(self._sequence), "streamSid": self.stream_sid}
        return json.dumps(head | body)

    def connected(self) -> str:
        return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})

    def start(
        self, custom_parameters: Mapping[str, str], tracks: tuple[str, ...] = ("inbound",)
    ) -> str:
        start = {
            "streamSid": self.stream_sid,
            "accountSid": self.account_sid,
            "callSid": self.call_sid,
            "tracks": list(tracks),
            "mediaFormat": dict(MEDIA_FORMAT),
            "customParameters": dict(custom_parameters),
        }
        return self._frame("start", {"start": start})

    def media(self, payload: bytes, timestamp_ms: int | None = None) -> str:
        """One inbound chunk; `timestamp_ms` defaults to 20 ms per chunk since the start."""
        self._chunk += 1
        stamp = (self._chunk - 1) * 20 if timestamp_ms is None else timestamp_ms
        media = {
            "track": "inbound",
            "chunk": str(self._chunk),
            "timestamp": str(stamp),
            "payload": binascii.b2a_base64(payload, newline=False).decode(),
        }
        return self._frame("media", {"media": media})

    def dtmf(self, digit: str) -> str:
        return self._frame("dtmf", {"dtmf": {"track": "inbound_track", "digit": digit}})

    def mark(self, name: str) -> str:
        return self._frame("mark", {"mark": {"name": name}})

    def stop(self) -> str:
        return self._frame(
            "stop", {"stop": {"accountSid": self.account_sid, "callSid": self.call_sid}}
        )

    def parse(self, message: str | bytes) -> Command:
        msg = frames.load(
            message,
            MAX_OUTBOUND_FRAME_CHARS,
            INVALID_MESSAGE,
            carrier="Twilio",
            binary_code=BINARY_FRAME,
        )
        event = msg.get("event")
        if msg.get("streamSid") != self.stream_sid:
            raise ProtocolViolation("missing or wrong streamSid", INVALID_MESSAGE)
        if event == "media":
            self._exact(msg, {"event", "streamSid", "media"})
            media = frames.field_object(msg, "media", INVALID_MESSAGE)
            self._exact(media, {"payload"})
            payload = frames.field_string(media, "payload", INVALID_MESSAGE)
            return PlayAudio(frames.audio(payload, MAX_OUTBOUND_FRAME_CHARS, INVALID_MESSAGE))
        if event == "mark":
            self._exact(msg, {"event", "streamSid", "mark"})
            mark = frames.field_object(msg, "mark", INVALID_MESSAGE)
            self._exact(mark, {"name"})
            return PlaceMark(frames.field_string(mark, "name", INVALID_MESSAGE))
        if event == "clear":
            self._exact(msg, {"event", "streamSid"})
            return ClearAudio()
        raise ProtocolViolation("unknown or missing event", INVALID_MESSAGE)

    @staticmethod
    def _exact(obj: Mapping[str, Any], keys: set[str]) -> None:
        if obj.keys() != keys:
            raise ProtocolViolation(f"fields are not exactly {sorted(keys)}", INVALID_MESSAGE)
