"""Vonage's media WebSocket, both ends: binary audio, JSON text control (carriers.md §5.2).

`VonageMediaStream` is the bridge's end; `VonageCarrierSide` is Vonage's, used by our simulator,
so every frame has one definition. Where Vonage differs from the JSON carriers:
- Audio is raw binary: 16-bit little-endian PCM at the rate the NCCO asked for, exactly one
  20 ms frame per message (320/640/960 bytes), both ways. Anything else distorts at Vonage
  (carriers.md §9.4), so the bridge sends one frame per message and refuses other sizes.
- The first frame, `websocket:connected`, is the only start there is: it carries the
  content-type and, flattened to its top level, the `headers` our NCCO set (the ticket; the
  call uuid where we knew it). Vonage names no stream, so the bridge makes the stream id up.
- Marks are `notify` actions, echoed as `websocket:notify` with our payload; `clear` is
  answered by `websocket:cleared`. There is no stop frame: the socket's close ends the stream.

Hot path: a media frame costs one type and one length check, and goes out as it came in.
Nothing here logs.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from bridge.audio.formats import AudioFormat, Encoding
from bridge.carriers import frames
from bridge.carriers.base import (
    CarrierMediaStream,
    ClearAudio,
    Command,
    Dtmf,
    Event,
    MarkPlayed,
    Media,
    PlaceMark,
    PlayAudio,
    ProtocolViolation,
    Started,
    StreamNotStarted,
)

RATES = (8000, 16000, 24000)
MAX_FRAME_CHARS = 8 * 1024  # text frames are control messages: ~100 chars, the first ~600
MAX_HEADERS = 32
MAX_HEADER_CHARS = 1024
MAX_ID_CHARS = 256
CALL_UUID_HEADER = "call_uuid"  # the header our NCCO puts the call's uuid in, where known
DTMF_DIGITS = frames.DTMF_DIGITS
CONTENT_TYPE_PREFIX = "audio/l16;rate="
# Not Vonage's codes (it documents none): the simulator's labels for what it refuses.
WRONG_FRAME_SIZE = 1
INVALID_MESSAGE = 2
BUFFER_FULL = 3

_CLEAR = '{"action":"clear"}'
_CLEARED = '{"event":"websocket:cleared"}'
# Looks up the call uuid of a dialled leg by the stream's headers (the ticket): Vonage puts no
# call id on the socket, and a dial's NCCO is sent before its uuid exists.
DialledCall = Callable[[Mapping[str, str]], str | None]


def frame_bytes(rate: int) -> int:
    """One 20 ms frame of 16-bit PCM at `rate`."""
    return rate // 50 * 2


def content_type(rate: int) -> str:
    return f"{CONTENT_TYPE_PREFIX}{rate}"


def _rate(value: object) -> int:
    """The sample rate of a `content-type` like "audio/l16;rate=16000" (spaces, case ignored)."""
    if type(value) is not str or len(value) > 64:
        raise ProtocolViolation("'content-type' is missing or not a short string")
    spelled = value.replace(" ", "").lower()
    rate = spelled.removeprefix(CONTENT_TYPE_PREFIX)
    if rate == spelled or not rate.isascii() or not rate.isdigit() or int(rate) not in RATES:
        raise ProtocolViolation(
            f"unsupported content-type {value[:40]!r}: the bridge takes audio/l16 at 8000, "
            "16000 or 24000 Hz"
        )
    return int(rate)


def _headers(msg: Mapping[str, Any]) -> dict[str, str]:
    """The NCCO's `headers`, flattened into `websocket:connected`: its string fields but ours."""
    found: dict[str, str] = {}
    for key, value in msg.items():
        if key in ("event", "content-type") or type(value) is not str:
            continue
        if len(found) == MAX_HEADERS or len(key) + len(value) > MAX_HEADER_CHARS:
            raise ProtocolViolation("websocket:connected carries too many or too long headers")
        found[key] = value
    return found


def _digit(msg: Mapping[str, Any]) -> str:
    digit = msg.get("digit")
    if digit is None and type(msg.get("dtmf")) is dict:  # some code nests it (carriers.md §5.2)
        digit = msg["dtmf"].get("digit")
    if type(digit) is int and 0 <= digit <= 9:
        digit = str(digit)
    if type(digit) is not str or digit not in DTMF_DIGITS:
        raise ProtocolViolation("dtmf digit is missing or not one of 0-9 * # A-D")
    return digit


class VonageMediaStream(CarrierMediaStream):
    """The bridge's end of one Vonage media WebSocket."""

    FRAMES_PER_MESSAGE = 1  # Vonage distorts on anything but exactly one 20 ms frame

    def __init__(self, dialled: DialledCall | None = None) -> None:
        self._dialled = dialled
        self._stream_id: str | None = None
        self._format = AudioFormat(Encoding.PCM16LE, 16000)
        self._frame = frame_bytes(16000)

    def parse(self, message: str | bytes) -> Event | None:
        if not isinstance(message, str):  # the hot path: one frame of audio
            if self._stream_id is None:
                raise ProtocolViolation("audio before websocket:connected")
            if len(message) != self._frame:
                raise ProtocolViolation(
                    f"audio frame of {len(message)} bytes; Vonage sends exactly 20 ms "
                    f"({self._frame} bytes at {self._format.sample_rate} Hz)"
                )
            return Media(message if type(message) is bytes else bytes(message))
        msg = frames.load(message, MAX_FRAME_CHARS, None, carrier="Vonage", binary_code=None)
        event = msg.get("event")
        if type(event) is not str:
            raise ProtocolViolation("'event' is missing or not a string")
        if event == "websocket:connected":
            return self._connected(msg)
        if self._stream_id is None:
            raise ProtocolViolation(f"{event[:40]} before websocket:connected")
        if event == "websocket:notify":
            payload = frames.field_object(msg, "payload")
            return MarkPlayed(frames.field_string(payload, "name"))
        if event == "websocket:dtmf":
            return Dtmf(_digit(msg))
        return None  # websocket:cleared, and whatever Vonage adds: not a reason to drop a call

    def _connected(self, msg: Mapping[str, Any]) -> Started:
        if self._stream_id is not None:
            raise ProtocolViolation("second websocket:connected on one stream")
        rate = _rate(msg.get("content-type"))
        headers = _headers(msg)
        call_uuid = headers.get(CALL_UUID_HEADER)
        if call_uuid is None and self._dialled is not None:
            call_uuid = self._dialled(headers)
        if len(call_uuid or "") > MAX_ID_CHARS:
            raise ProtocolViolation("the call uuid header is oversized")
        self._format = AudioFormat(Encoding.PCM16LE, rate)
        self._frame = frame_bytes(rate)
        self._stream_id = "vonage-" + uuid.uuid4().hex
        return Started(
            self._stream_id, call_uuid or "", "", MappingProxyType(headers), self._format
        )

    def _require_start(self) -> None:
        if self._stream_id is None:
            raise StreamNotStarted("no Vonage stream yet: wait for websocket:connected")

    def media(self, audio: bytes) -> bytes:
        self._require_start()
        if len(audio) != self._frame:
            raise ValueError(f"Vonage takes exactly one 20 ms frame ({self._frame} bytes)")
        return audio

    def mark(self, name: str) -> str:
        self._require_start()
        return json.dumps({"action": "notify", "payload": {"name": name}})

    def clear(self) -> str:
        self._require_start()
        return _CLEAR


class VonageCarrierSide:
    """Vonage's end of one media stream: the frames Vonage sends and its checks on ours.

    `parse` refuses what Vonage would not play: an audio message that is not exactly one
    20 ms frame at the negotiated rate (WRONG_FRAME_SIZE), a text frame that is not a JSON
    object with a known `action` (INVALID_MESSAGE; the Plivo-style `{"event": "clearAudio"}`
    some code sends is one, carriers.md §5.2).
    """

    def __init__(self, rate: int) -> None:
        if rate not in RATES:
            raise ValueError(f"Vonage streams at {RATES}, not {rate}")
        self.rate = rate
        self.frame_bytes = frame_bytes(rate)

    def connected(self, headers: Mapping[str, str]) -> str:
        return json.dumps(
            {"event": "websocket:connected", "content-type": content_type(self.rate)}
            | dict(headers)
        )

    def media(self, pcm: bytes) -> bytes:
        if len(pcm) != self.frame_bytes:
            raise ValueError(f"one frame is {self.frame_bytes} bytes, not {len(pcm)}")
        return pcm

    def dtmf(self, digit: str, duration_ms: int = 260) -> str:
        return json.dumps({"event": "websocket:dtmf", "digit": digit, "duration": duration_ms})

    def notify(self, payload: Mapping[str, Any]) -> str:
        return json.dumps({"event": "websocket:notify", "payload": dict(payload)})

    def cleared(self) -> str:
        return _CLEARED

    def parse(self, message: str | bytes) -> Command:
        if not isinstance(message, str):
            if len(message) != self.frame_bytes:
                raise ProtocolViolation(
                    f"audio message of {len(message)} bytes; Vonage plays exactly one 20 ms "
                    f"frame per message ({self.frame_bytes} bytes at {self.rate} Hz)",
                    WRONG_FRAME_SIZE,
                )
            return PlayAudio(bytes(message))
        msg = frames.load(
            message, MAX_FRAME_CHARS, INVALID_MESSAGE, carrier="Vonage", binary_code=None
        )
        action = msg.get("action")
        if action == "notify":
            payload = frames.field_object(msg, "payload", INVALID_MESSAGE)
            return PlaceMark(frames.field_string(payload, "name", INVALID_MESSAGE))
        if action == "clear":
            return ClearAudio()
        raise ProtocolViolation(
            "text frame without a known 'action' (notify, clear)", INVALID_MESSAGE
        )
