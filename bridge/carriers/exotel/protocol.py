"""Exotel's Voicebot media stream, both ends of the socket (carriers.md §6.2).

`ExotelMediaStream` is the bridge's end; `ExotelCarrierSide` is Exotel's, used by our simulator,
so every frame has exactly one definition. Where Exotel differs from Twilio and Telnyx:
- Audio is 16-bit little-endian PCM ("slin") at the rate the stream URL asked for (8, 16 or
  24 kHz), in ~100 ms chunks each way; what we send must be a multiple of 320 bytes, which
  whole 20 ms frames at any of those rates are.
- The ticket arrives split over the custom query parameters `t1`..`t3` (Exotel takes three of
  at most 256 characters); they are joined back into `custom_parameters["ticket"]`.
- Field names drift: current docs say `stream_sid`, older material `streamSid`. Both are read;
  we write the documented snake_case.

Exotel publishes no error codes for frames it refuses; the simulator's codes below are ours.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from bridge.audio.formats import AudioFormat, Encoding
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
from bridge.carriers.exotel.auth import joined_ticket

MAX_FRAME_CHARS = 64 * 1024  # 100 ms at 24 kHz is 4800 bytes, 6400 in base64
MAX_INBOUND_PAYLOAD_CHARS = 16 * 1024
# Exotel takes up to ~100 KB per media message; we send at most 100 ms (max_frames_per_message).
MAX_OUTBOUND_AUDIO_BYTES = 100 * 1000
MAX_OUTBOUND_PAYLOAD_CHARS = -(-MAX_OUTBOUND_AUDIO_BYTES // 3) * 4
MAX_OUTBOUND_FRAME_CHARS = MAX_OUTBOUND_PAYLOAD_CHARS + 1024
PAYLOAD_MULTIPLE = 320  # bytes: Exotel plays only payloads of a multiple of this
MAX_FRAMES_PER_MESSAGE = 5  # 100 ms, Exotel's own chunk size
MAX_ID_CHARS = 256
RATES = frozenset({8000, 16000, 24000})
ENCODING = "audio/x-raw"
DTMF_DIGITS = frames.DTMF_DIGITS
# The simulator's warning codes (Exotel has none of its own for these).
MALFORMED_FRAME = 1
INVALID_MEDIA = 2


def _pick(msg: Mapping[str, Any], snake: str, camel: str) -> Any:
    """A field by its documented snake_case name, or the older camelCase one."""
    return msg[snake] if snake in msg else msg.get(camel)


def _rate(value: object) -> int | None:
    """A sample rate as Exotel writes it (a decimal string; an int tolerated)."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 6:
        value = int(value)
    return value if type(value) is int and value in RATES else None


def media_format(fmt: Mapping[str, Any]) -> AudioFormat:
    encoding = fmt.get("encoding")
    if encoding != ENCODING:
        raise ProtocolViolation(f"unsupported encoding: expected {ENCODING}")
    rate = _rate(_pick(fmt, "sample_rate", "sampleRate"))
    if rate is None:
        raise ProtocolViolation("unsupported sample_rate: expected 8000, 16000 or 24000")
    bits = _pick(fmt, "bit_rate", "bitRate")
    if bits is not None and bits not in ("16", 16):
        raise ProtocolViolation("unsupported bit_rate: expected 16")
    return AudioFormat(Encoding.PCM16LE, rate)


class ExotelMediaStream(CarrierMediaStream):
    """The bridge's end of one Exotel Voicebot stream."""

    FRAMES_PER_MESSAGE = MAX_FRAMES_PER_MESSAGE

    def __init__(self) -> None:
        self._stream_id: str | None = None
        self._format = AudioFormat(Encoding.PCM16LE, 8000)

    def parse(self, message: str | bytes) -> Event | None:
        msg = frames.load(message, MAX_FRAME_CHARS, None, carrier="Exotel", binary_code=None)
        event = msg.get("event")
        if event == "media":  # the hot path first
            self._check_stream(msg, "media")
            media = frames.field_object(msg, "media")
            payload = frames.audio(frames.field_string(media, "payload"), MAX_INBOUND_PAYLOAD_CHARS)
            if len(payload) % 2:
                raise ProtocolViolation("media payload is not whole 16-bit samples")
            chunk = frames.counter(media.get("chunk"), "chunk")
            return Media(payload, frames.counter(media.get("timestamp"), "timestamp"), chunk)
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
            if self._stream_id is not None and self._names_another(msg):
                raise ProtocolViolation("stop for another stream_sid")
            return Stopped()
        if event == "connected":
            if self._stream_id is not None:
                raise ProtocolViolation("connected after start")
            return Connected()
        return None  # an event Exotel added later is no reason to drop the call

    def _names_another(self, msg: Mapping[str, Any]) -> bool:
        sid = _pick(msg, "stream_sid", "streamSid")
        return sid is not None and sid != self._stream_id

    def _check_stream(self, msg: Mapping[str, Any], event: str) -> None:
        if self._stream_id is None:
            raise ProtocolViolation(f"{event} before start")
        if self._names_another(msg):
            raise ProtocolViolation(f"{event} for another stream_sid")

    def _start(self, msg: Mapping[str, Any]) -> Started:
        if self._stream_id is not None:
            raise ProtocolViolation("second start on one stream")
        start = frames.field_object(msg, "start")
        ids = []
        for snake, camel in (("stream_sid", "streamSid"), ("call_sid", "callSid")):
            value = _pick(start, snake, camel)
            if value is None and snake == "stream_sid":
                value = _pick(msg, snake, camel)
            if type(value) is not str or not 0 < len(value) <= MAX_ID_CHARS:
                raise ProtocolViolation(f"start has no {snake} of 1-{MAX_ID_CHARS} characters")
            ids.append(value)
        account = _pick(start, "account_sid", "accountSid")
        if account is None:
            account = ""
        if type(account) is not str or len(account) > MAX_ID_CHARS:
            raise ProtocolViolation("'account_sid' is not a string of at most 256 characters")
        fmt = _pick(start, "media_format", "mediaFormat")
        if type(fmt) is not dict:
            raise ProtocolViolation("'media_format' is missing or not an object")
        audio = media_format(fmt)
        raw = _pick(start, "custom_parameters", "customParameters")
        if raw is not None and type(raw) is not dict:
            raise ProtocolViolation("'custom_parameters' is not an object")
        params = {k: v for k, v in (raw or {}).items() if type(v) is str}
        self._stream_id, self._format = ids[0], audio
        return Started(ids[0], ids[1], account, MappingProxyType(joined_ticket(params)), audio)

    def _require_start(self) -> str:
        if self._stream_id is None:
            raise StreamNotStarted("no Exotel stream yet: wait for start before sending")
        return self._stream_id

    def media(self, audio: bytes) -> str:
        """`audio` is whole 20 ms frames (320, 640 or 960 bytes each): a multiple of 320."""
        sid = json.dumps(self._require_start())
        payload = binascii.b2a_base64(audio, newline=False).decode()
        return f'{{"event":"media","stream_sid":{sid},"media":{{"payload":"{payload}"}}}}'

    def mark(self, name: str) -> str:
        sid = self._require_start()
        return json.dumps({"event": "mark", "stream_sid": sid, "mark": {"name": name}})

    def clear(self) -> str:
        return json.dumps({"event": "clear", "stream_sid": self._require_start()})


class ExotelCarrierSide:
    """Exotel's end of one Voicebot stream: the frames it sends and its checks on ours."""

    def __init__(
        self,
        stream_sid: str,
        call_sid: str,
        account_sid: str,
        *,
        sample_rate: int = 8000,
        from_number: str = "",
        to_number: str = "",
    ) -> None:
        self.stream_sid, self.call_sid, self.account_sid = stream_sid, call_sid, account_sid
        self.sample_rate, self.from_number, self.to_number = sample_rate, from_number, to_number
        self.sequence_number = 0
        self._chunk = 0
        self._timestamp_ms = 0

    def _frame(self, event: str, body: dict[str, Any]) -> str:
        self.sequence_number += 1
        head = {"event": event, "sequence_number": str(self.sequence_number)}
        return json.dumps(head | {"stream_sid": self.stream_sid} | body)

    def connected(self) -> str:
        return json.dumps({"event": "connected"})

    def start(self, custom_parameters: Mapping[str, str]) -> str:
        start = {
            "stream_sid": self.stream_sid,
            "call_sid": self.call_sid,
            "account_sid": self.account_sid,
            "from": self.from_number,
            "to": self.to_number,
            "custom_parameters": dict(custom_parameters),
            "media_format": {
                "encoding": ENCODING,
                "sample_rate": str(self.sample_rate),
                "bit_rate": "16",
            },
        }
        return self._frame("start", {"start": start})

    def media(self, payload: bytes) -> str:
        """One inbound chunk, numbered from 1, stamped with the audio before it (ms)."""
        self._chunk += 1
        media = {
            "chunk": str(self._chunk),
            "timestamp": str(self._timestamp_ms),
            "payload": binascii.b2a_base64(payload, newline=False).decode(),
        }
        self._timestamp_ms += len(payload) * 1000 // (2 * self.sample_rate)
        return self._frame("media", {"media": media})

    def dtmf(self, digit: str) -> str:
        return self._frame("dtmf", {"dtmf": {"digit": digit, "duration": "100"}})

    def mark(self, name: str) -> str:
        return self._frame("mark", {"mark": {"name": name}})

    def stop(self, reason: str = "callended") -> str:
        stop = {"call_sid": self.call_sid, "account_sid": self.account_sid, "reason": reason}
        return self._frame("stop", {"stop": stop})

    def parse(self, message: str | bytes) -> Command:
        """The bridge's frame as Exotel takes it: JSON text addressed to this stream, audio in
        multiples of 320 bytes; anything else is refused (and, at Exotel, dropped)."""
        msg = frames.load(
            message,
            MAX_OUTBOUND_FRAME_CHARS,
            MALFORMED_FRAME,
            carrier="Exotel",
            binary_code=MALFORMED_FRAME,
        )
        event = msg.get("event")
        if event not in ("media", "mark", "clear"):
            raise ProtocolViolation("unknown or missing event", MALFORMED_FRAME)
        sid = _pick(msg, "stream_sid", "streamSid")
        if sid != self.stream_sid:
            raise ProtocolViolation(f"{event} without this stream's stream_sid", MALFORMED_FRAME)
        if event == "media":
            media = frames.field_object(msg, "media", MALFORMED_FRAME)
            payload = frames.audio(
                frames.field_string(media, "payload", MALFORMED_FRAME),
                MAX_OUTBOUND_PAYLOAD_CHARS,
                INVALID_MEDIA,
            )
            if len(payload) % PAYLOAD_MULTIPLE:
                raise ProtocolViolation(
                    f"media payload of {len(payload)} bytes is not a multiple of "
                    f"{PAYLOAD_MULTIPLE}",
                    INVALID_MEDIA,
                )
            return PlayAudio(payload)
        if event == "mark":
            mark = frames.field_object(msg, "mark", MALFORMED_FRAME)
            return PlaceMark(frames.field_string(mark, "name", MALFORMED_FRAME))
        return ClearAudio()
