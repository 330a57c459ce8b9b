"""Telnyx media streaming (bidirectional `rtp` mode), both ends of the socket.

`TelnyxMediaStream` is the bridge's end; `TelnyxCarrierSide` is Telnyx's end, used by our
simulator. Both live here so that every frame has exactly one definition (carriers.md §4.2/§4.3).

Where Telnyx differs from Twilio (whose module, twilio/protocol.py, this one follows):
- `stream_id` is at the top level of Telnyx's frames, and our frames carry none.
- The codec is negotiated; the bridge asks for PCMU or PCMA at 8 kHz and refuses anything else
  at `start`, with a reason that says so (a misconfigured number fails loudly, not garbled).
- Media frames may arrive out of order, so a small window puts them back (`_reorder`).
- Telnyx reports trouble with our frames in `error` frames: a `CarrierWarning`, never fatal.
- `connected` may carry the stream auth token; it is dropped on the spot, so no event (and so no
  log line built from one) ever holds it.

Hot path: about 50 frames a second per leg in each direction. Parsing a media frame costs one
`json.loads` and one strict base64 decode, and a frame in order costs the reorder window one
comparison; building one is a prepared prefix plus base64. Nothing here logs.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from bridge.audio.formats import ALAW_8K, MULAW_8K, AudioFormat
from bridge.carriers import frames
from bridge.carriers.base import (
    CarrierMediaStream,
    CarrierWarning,
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

# Inbound frames are ~300 characters; 64 KiB is what hardened media-stream servers allow.
MAX_FRAME_CHARS = 64 * 1024
# Base64 characters in one inbound payload: 20 ms of G.711 is 216, so this is ~1.5 s.
MAX_INBOUND_PAYLOAD_CHARS = 16 * 1024
# `rtp` mode takes 20 ms to 30 s per message (carriers.md §4.3); G.711 at 8 kHz is 8000 B/s.
MAX_OUTBOUND_AUDIO_BYTES = 30 * 8000
MAX_OUTBOUND_PAYLOAD_CHARS = -(-MAX_OUTBOUND_AUDIO_BYTES // 3) * 4
MAX_OUTBOUND_FRAME_CHARS = 1024 * 1024
# Telnyx plays any length in that range; 500 ms keeps each message ~5 kB, as for Twilio.
MAX_FRAMES_PER_MESSAGE = 25
# Out-of-order frames held back at most; one more and the missing frame is given up (60 ms).
REORDER_WINDOW = 3
# A chunk this far from the expected one is a jumped counter, not reordering (1 s of frames).
MAX_CHUNK_JUMP = 50
# Telnyx does not document where `chunk` starts; Twilio's starts at 1, and a 0 is taken too.
FIRST_CHUNK = 1
MAX_ID_CHARS = 256
MAX_CLIENT_STATE_CHARS = 8 * 1024
MAX_WARNING_CHARS = 200
DTMF_DIGITS = frames.DTMF_DIGITS
# Newer docs say PCMU/PCMA, older ones audio/x-mulaw (carriers.md §4.2): both mean the same.
ENCODINGS: Mapping[str, AudioFormat] = MappingProxyType(
    {"PCMU": MULAW_8K, "audio/x-mulaw": MULAW_8K, "PCMA": ALAW_8K, "audio/x-alaw": ALAW_8K}
)
ASKED_FOR = "the bridge asks for PCMU/PCMA, 8 kHz, mono"
AUTH_TOKEN_FIELD = "x-telnyx-streaming-auth-token"
UNKNOWN_CODE = "unknown"

# Telnyx's codes for frames it refuses (carriers.md §4.2). Telnyx writes them as strings
# ("100003"); ProtocolViolation.code is an int, so `str(code)` gives Telnyx's spelling.
MALFORMED_FRAME = 100003
INVALID_MEDIA = 100004

_UNSET = -1  # no chunk released yet
_MEDIA_PREFIX = '{"event":"media","media":{"payload":"'
_CLEAR_FRAME = '{"event":"clear"}'


def _brief(value: object) -> str:
    """A peer's value fit for a reason (a log line): short, never the whole frame (and no
    `repr` of a container, which could nest deep enough to blow the recursion limit)."""
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "an object"
    shown = repr(value)
    return shown if len(shown) <= 20 else shown[:17] + "..."


def _media_format(fmt: Mapping[str, Any]) -> AudioFormat:
    encoding, rate, channels = fmt.get("encoding"), fmt.get("sample_rate"), fmt.get("channels")
    audio = ENCODINGS.get(encoding) if type(encoding) is str else None
    if audio is None:
        raise ProtocolViolation(f"unsupported encoding {_brief(encoding)}: {ASKED_FOR}")
    if type(rate) is not int or rate != audio.sample_rate:
        raise ProtocolViolation(f"unsupported sample_rate {_brief(rate)}: {ASKED_FOR}")
    if type(channels) is not int or channels != 1:
        raise ProtocolViolation(f"unsupported channels {_brief(channels)}: {ASKED_FOR}")
    return audio


def _custom_parameters(start: Mapping[str, Any]) -> dict[str, str]:
    """`custom_parameters`' string values, and `client_state`'s where the ticket is not there.

    Call Control can carry our ticket either way (carriers.md §4.1): as a custom parameter, or
    inside `client_state` as base64 of a JSON object. A custom parameter wins over client_state.
    """
    raw = start.get("custom_parameters")
    if raw is None:
        params: dict[str, str] = {}
    elif type(raw) is dict:
        params = {key: value for key, value in raw.items() if type(value) is str}
    else:
        raise ProtocolViolation("'custom_parameters' is not an object")
    state = start.get("client_state")
    if "ticket" not in params and type(state) is str:
        for key, value in decode_client_state(state).items():
            params.setdefault(key, value)
    return params


def decode_client_state(state: str) -> dict[str, str]:
    """The string values of a `client_state` that is base64 of a JSON object, else nothing:
    client_state is free-form, so one that is not ours is no reason to refuse the stream."""
    if len(state) > MAX_CLIENT_STATE_CHARS:
        return {}
    try:
        decoded = json.loads(binascii.a2b_base64(state, strict_mode=True))
    except (ValueError, RecursionError):
        return {}
    if type(decoded) is not dict:
        return {}
    return {key: value for key, value in decoded.items() if type(value) is str}


def encode_client_state(values: Mapping[str, str]) -> str:
    """`values` as a client_state (base64 of a JSON object), the shape the bridge reads back."""
    return binascii.b2a_base64(json.dumps(dict(values)).encode(), newline=False).decode()


def _warning(msg: Mapping[str, Any]) -> CarrierWarning:
    """An `error` frame as a warning, however odd: it reports trouble, it must not cause more.

    The body is under `error` as documented, or under `payload` as one implementation saw.
    """
    body = msg.get("error")
    if type(body) is not dict and type(body) is not str:
        body = msg.get("payload")
    if type(body) is str:
        return CarrierWarning(UNKNOWN_CODE, body[:MAX_WARNING_CHARS] or "error without detail")
    if type(body) is not dict:
        return CarrierWarning(UNKNOWN_CODE, "unreadable error frame")
    code = body.get("code")
    if type(code) is int and 0 <= code < 10**12:
        code = str(code)
    if type(code) is not str or not 0 < len(code) <= 16:
        code = UNKNOWN_CODE
    parts = [text for text in (body.get("title"), body.get("detail")) if type(text) is str]
    return CarrierWarning(code, ": ".join(p for p in parts if p)[:MAX_WARNING_CHARS] or "no detail")


def _joined(run: list[Media]) -> Media:
    """Consecutive frames as one Media: one event and one downstream write instead of several."""
    if len(run) == 1:
        return run[0]
    first = run[0]
    return Media(b"".join(frame.payload for frame in run), first.timestamp_ms, first.chunk)


class TelnyxMediaStream(CarrierMediaStream):
    """The bridge's end of one Telnyx media WebSocket.

    `late_frames` counts media frames dropped because their chunk was already released (a late
    arrival beyond the reorder window, or a duplicate): the call's audio lost that much.
    """

    FRAMES_PER_MESSAGE = MAX_FRAMES_PER_MESSAGE

    def __init__(self) -> None:
        self._stream_id: str | None = None
        self._call_id: str | None = None
        self._format = MULAW_8K
        self._next = _UNSET
        self._held: dict[int, Media] = {}
        self.late_frames = 0

    @property
    def call_id(self) -> str | None:
        return self._call_id

    def parse(self, message: str | bytes) -> Event | None:
        msg = frames.load(message, MAX_FRAME_CHARS, None, carrier="Telnyx", binary_code=None)
        event = msg.get("event")
        if event == "media":  # the hot path first
            self._check_stream(msg, "media")
            media = frames.field_object(msg, "media")
            track = media.get("track", "inbound")
            if track != "inbound":
                if type(track) is not str:
                    raise ProtocolViolation("'track' is not a string")
                return None  # the other party's audio (both_tracks), not the caller's
            payload = frames.audio(frames.field_string(media, "payload"), MAX_INBOUND_PAYLOAD_CHARS)
            chunk = frames.counter(media.get("chunk"), "chunk")
            frame = Media(payload, frames.counter(media.get("timestamp"), "timestamp"), chunk)
            if chunk is None:
                return frame
            if chunk == self._next and not self._held:
                self._next = chunk + 1
                return frame
            return self._reorder(frame, chunk)
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
        if event == "error":
            return _warning(msg)
        if event == "stop":
            if self._stream_id is not None and self._names_another(msg):
                raise ProtocolViolation("stop for another stream_id")
            return Stopped()
        if event == "connected":
            if self._stream_id is not None:
                raise ProtocolViolation("connected after start")
            version = msg.get("version")  # and maybe the auth token: deliberately not kept
            return Connected("", version if type(version) is str else "")
        return None  # Telnyx may add events; an unknown one is not a reason to drop the call

    def _names_another(self, msg: Mapping[str, Any]) -> bool:
        """A frame without `stream_id` is ours: Telnyx's examples always carry one, but nothing
        is gained by refusing one without; one naming another stream is a mix-up, refused."""
        return bool(msg.get("stream_id", self._stream_id) != self._stream_id)

    def _check_stream(self, msg: Mapping[str, Any], event: str) -> None:
        if self._stream_id is None:
            raise ProtocolViolation(f"{event} before start")
        if self._names_another(msg):
            raise ProtocolViolation(f"{event} for another stream_id")

    def _reorder(self, frame: Media, chunk: int) -> Media | None:
        """Frames back in chunk order, as far as a window of REORDER_WINDOW held frames allows.

        The expected chunk goes out at once with any held successors, as one Media; a later one
        is held; when more than the window is held, the missing chunk is given up and all held
        frames go out in order; a chunk already released (or held) is dropped and counted. A
        chunk more than MAX_CHUNK_JUMP away is a counter that jumped, not reordering: what is
        held goes out, followed by it, and counting restarts there, so a bogus or reset counter
        costs a frame rather than every frame after it.
        """
        held, expected = self._held, self._next
        if expected != _UNSET and abs(chunk - expected) > MAX_CHUNK_JUMP:
            run = [held[number] for number in sorted(held)]
            run.append(frame)
            held.clear()
            self._next = chunk + 1
            return _joined(run)
        if chunk in held or chunk < expected:
            self.late_frames += 1
            return None
        if expected == _UNSET and chunk <= FIRST_CHUNK:
            expected = chunk  # the stream's first chunk: what was held waits for it
        if chunk == expected:
            run = [frame]
            following = chunk + 1
            while following in held:
                run.append(held.pop(following))
                following += 1
            self._next = following
            return _joined(run)
        held[chunk] = frame
        if len(held) <= REORDER_WINDOW:
            return None
        numbers = sorted(held)
        run = [held[number] for number in numbers]
        held.clear()
        self._next = numbers[-1] + 1
        return _joined(run)

    def _start(self, msg: Mapping[str, Any]) -> Started:
        if self._stream_id is not None:
            raise ProtocolViolation("second start on one stream")
        start = frames.field_object(msg, "start")
        stream_id, call_id = (
            frames.field_string(msg, "stream_id"),
            frames.field_string(start, "call_control_id"),
        )
        if not 0 < len(stream_id) <= MAX_ID_CHARS or not 0 < len(call_id) <= MAX_ID_CHARS:
            raise ProtocolViolation("start has an empty or oversized stream_id/call_control_id")
        user_id = start.get("user_id", "")
        if user_id is None:  # a call without an account? say nothing rather than refuse
            user_id = ""
        if type(user_id) is not str or len(user_id) > MAX_ID_CHARS:
            raise ProtocolViolation("'user_id' is not a string of at most 256 characters")
        audio = _media_format(frames.field_object(start, "media_format"))
        params = _custom_parameters(start)
        self._stream_id, self._call_id, self._format = stream_id, call_id, audio
        return Started(stream_id, call_id, user_id, MappingProxyType(params), audio)

    def _require_start(self) -> None:
        if self._stream_id is None:
            raise StreamNotStarted("no Telnyx stream yet: wait for start before sending")

    def media(self, audio: bytes) -> str:
        self._require_start()
        return _MEDIA_PREFIX + binascii.b2a_base64(audio, newline=False).decode() + '"}}'

    def mark(self, name: str) -> str:
        self._require_start()
        return json.dumps({"event": "mark", "mark": {"name": name}})

    def clear(self) -> str:
        self._require_start()
        return _CLEAR_FRAME


class TelnyxCarrierSide:
    """Telnyx's end of one media stream: the frames Telnyx sends and Telnyx's checks on ours.

    `parse` refuses what Telnyx refuses, with Telnyx's code: a binary, non-JSON, shapeless or
    unknown frame is 100003 (malformed_frame), a payload that is not base64 or longer than
    30 s is 100004 (invalid_media). Telnyx answers those with an `error` frame (`error()`).
    """

    def __init__(
        self,
        stream_id: str,
        call_control_id: str,
        *,
        call_session_id: str = "",
        from_number: str = "",
        to_number: str = "",
        encoding: str = "PCMU",
        client_state: str | None = None,
        user_id: str = "",
        sample_rate: int = 8000,
    ) -> None:
        self.stream_id, self.call_control_id = stream_id, call_control_id
        self.call_session_id, self.user_id = call_session_id, user_id
        self.from_number, self.to_number = from_number, to_number
        self.encoding, self.sample_rate, self.client_state = encoding, sample_rate, client_state
        self.sequence_number = 0
        self._chunk = 0

    def _frame(self, event: str, body: dict[str, Any]) -> str:
        self.sequence_number += 1
        head = {"event": event, "sequence_number": str(self.sequence_number)}
        return json.dumps(head | {"stream_id": self.stream_id} | body)

    def connected(self, auth_token: str | None = None) -> str:
        frame = {"event": "connected", "version": "1.0.0"}
        if auth_token is not None:
            frame[AUTH_TOKEN_FIELD] = auth_token
        return json.dumps(frame)

    def start(self, custom_parameters: Mapping[str, str]) -> str:
        start: dict[str, Any] = {
            "user_id": self.user_id,
            "call_control_id": self.call_control_id,
            "call_session_id": self.call_session_id,
            "from": self.from_number,
            "to": self.to_number,
            "custom_parameters": dict(custom_parameters),
            "media_format": {
                "encoding": self.encoding,
                "sample_rate": self.sample_rate,
                "channels": 1,
            },
        }
        if self.client_state is not None:
            start["client_state"] = self.client_state
        return self._frame("start", {"start": start})

    def media(
        self, payload: bytes, chunk: int | None = None, timestamp_ms: int | None = None
    ) -> str:
        """One inbound chunk, numbered from 1; an explicit `chunk` sends frames out of order
        (later defaults continue after the highest so far). `timestamp_ms`: 20 ms a chunk."""
        if chunk is None:
            chunk = self._chunk + 1
        self._chunk = max(self._chunk, chunk)
        media = {
            "track": "inbound",
            "chunk": str(chunk),
            "timestamp": str((chunk - 1) * 20 if timestamp_ms is None else timestamp_ms),
            "payload": binascii.b2a_base64(payload, newline=False).decode(),
        }
        return self._frame("media", {"media": media})

    def dtmf(self, digit: str) -> str:
        return self._frame("dtmf", {"dtmf": {"digit": digit}})

    def mark(self, name: str) -> str:
        return self._frame("mark", {"mark": {"name": name}})

    def error(self, code: str, title: str, detail: str) -> str:
        return self._frame("error", {"error": {"code": code, "title": title, "detail": detail}})

    def stop(self) -> str:
        stop = {"user_id": self.user_id, "call_control_id": self.call_control_id}
        return self._frame("stop", {"stop": stop})

    def parse(self, message: str | bytes) -> Command:
        msg = frames.load(
            message,
            MAX_OUTBOUND_FRAME_CHARS,
            MALFORMED_FRAME,
            carrier="Telnyx",
            binary_code=MALFORMED_FRAME,
        )
        event = msg.get("event")
        if event == "media":
            payload = frames.field_string(
                frames.field_object(msg, "media", MALFORMED_FRAME), "payload", MALFORMED_FRAME
            )
            return PlayAudio(frames.audio(payload, MAX_OUTBOUND_PAYLOAD_CHARS, INVALID_MEDIA))
        if event == "mark":
            return PlaceMark(
                frames.field_string(
                    frames.field_object(msg, "mark", MALFORMED_FRAME), "name", MALFORMED_FRAME
                )
            )
        if event == "clear":
            return ClearAudio()
        raise ProtocolViolation("unknown or missing event", MALFORMED_FRAME)
