"""The agent console's media WebSocket (bridge/web/console/media.js), the bridge's end.

The page is a leg like a carrier's: it says `start` with the ticket the console's answer gave
it and its AudioContext's rate, then sends exactly one 20 ms frame of 16-bit little-endian PCM
per binary message, in real time. We send whole frames back as binary messages, and JSON text
for marks and clear; the page echoes a mark when its speaker worklet has played up to it, so
playout follows the browser's own clock exactly as it follows a carrier's.

The page's ticket is `<leg id>.<call ticket>`: the leg id is the ring the agent answered (the
"carrier call" of this leg, which the desk hands out once and for sixty seconds), the call
ticket proves the call as it does for every carrier. `leg_refusal` asks the desk whether that
ring may open a stream now; it is a plain function, so this module stays sans-I/O.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import MappingProxyType

from bridge.audio.formats import AudioFormat, Encoding
from bridge.carriers import frames
from bridge.carriers.base import (
    Event,
    MarkPlayed,
    Media,
    MediaStreamProtocol,
    ProtocolViolation,
    Started,
    Stopped,
    StreamNotStarted,
)

RATES = (48000, 16000)  # what the page's AudioContext runs at (16 kHz where 48 kHz is refused)
MAX_TEXT_CHARS = 4096  # start, mark and stop are a few hundred characters
HEARTBEAT_S = 5.0  # a silent network drop ends the leg within 1.5 times this
MAX_FRAMES_PER_MESSAGE = 10  # the page queues any whole number of frames; 200 ms per message

LegRefusal = Callable[[str, str], str | None]  # (leg id, call id) -> why not, or None


class BrowserMediaStream(MediaStreamProtocol):
    """One console media socket. `leg_refusal` is the desk's verdict on a leg id."""

    def __init__(self, leg_refusal: LegRefusal, call_id: str) -> None:
        self._leg_refusal = leg_refusal
        self._call_id = call_id  # the path's: the ring answered must be for this call
        self._leg_id: str | None = None
        self._format = AudioFormat(Encoding.PCM16LE, RATES[0])
        self._frame_bytes = self._format.bytes_for_ms(20)

    @property
    def media_format(self) -> AudioFormat:
        return self._format

    @property
    def max_frames_per_message(self) -> int:
        return MAX_FRAMES_PER_MESSAGE

    @property
    def heartbeat_s(self) -> float:
        """A laptop that loses its network sends no close: ping it, and end its leg (and so
        the call) when it stops answering, as a carrier ends a dropped call."""
        return HEARTBEAT_S

    @property
    def started(self) -> bool:
        return self._leg_id is not None

    @property
    def stream_id(self) -> str | None:
        return self._leg_id

    def parse(self, message: str | bytes) -> Event | None:
        if isinstance(message, bytes):
            if self._leg_id is None:
                raise ProtocolViolation("audio before 'start'")
            if len(message) != self._frame_bytes:
                raise ProtocolViolation(
                    f"audio frame of {len(message)} bytes; 20 ms of 16-bit mono PCM at "
                    f"{self._format.sample_rate} Hz is {self._frame_bytes} bytes"
                )
            return Media(message)
        msg = frames.load(message, MAX_TEXT_CHARS, None, carrier="browser", binary_code=None)
        event = msg.get("event")
        if event == "start":
            return self._start(msg)
        if self._leg_id is None:
            raise ProtocolViolation(f"{event!r} before 'start'")
        if event == "mark":
            name = msg.get("name")
            if not isinstance(name, str) or not name:
                raise ProtocolViolation("mark without a name")
            return MarkPlayed(name)
        if event == "stop":
            return Stopped()
        return None

    def _start(self, msg: dict[str, object]) -> Started:
        if self._leg_id is not None:
            raise ProtocolViolation("a second 'start'")
        rate, ticket = msg.get("sampleRate"), msg.get("ticket")
        if type(rate) is not int or rate not in RATES:
            raise ProtocolViolation(
                f"sampleRate {rate!r} is not supported; the console sends 48000 or 16000"
            )
        if not isinstance(ticket, str):
            raise ProtocolViolation("'start' carries no ticket; answer the call first")
        leg_id, _, call_ticket = ticket.partition(".")
        refusal = self._leg_refusal(leg_id, self._call_id)
        if refusal is not None:
            raise ProtocolViolation(refusal)
        self._leg_id = leg_id
        self._format = AudioFormat(Encoding.PCM16LE, rate)
        self._frame_bytes = self._format.bytes_for_ms(20)
        return Started(
            stream_id=leg_id,
            call_id=leg_id,
            account_id="browser",
            custom_parameters=MappingProxyType({"ticket": call_ticket}),
            media_format=self._format,
        )

    def media(self, audio: bytes) -> bytes:
        if self._leg_id is None:
            raise StreamNotStarted("media before start")
        return audio

    def mark(self, name: str) -> str:
        if self._leg_id is None:
            raise StreamNotStarted("mark before start")
        return json.dumps({"event": "mark", "name": name})

    def clear(self) -> str:
        if self._leg_id is None:
            raise StreamNotStarted("clear before start")
        return '{"event":"clear"}'
