"""One simulated media stream: the carrier's end of the media WebSocket.

Two tasks share the socket: the line sends the party's voice and plays the bridge's audio on one
absolute 20 ms schedule (frame n is due at epoch + n * 20 ms, so there is no drift), and the
receiver takes the bridge's frames as they come, validating them the way the carrier does.
The schedule runs on the carrier's clock, which may be off by `clock_ppm` (a +1000 ppm carrier
ticks every 20 ms / 1.001 of real time, for its voice and its playback alike: the bridge must
follow the carrier's clock, not its own). A line that runs late (a busy event loop) catches up
at once, voice and playback; an injected `stall` freezes the line instead, after which the
voice captured meanwhile goes out in a burst but playback does not catch up: the loudspeaker
played silence for the stalled ticks and everything queued plays that much later. The
stream ends when the bridge closes the socket (Twilio's TwiML then continues after
`</Connect>`; a Telnyx call just stays up) or when the call is hung up or redirected (the task
is cancelled: `stop`, then close, as both carriers do).

The session is carrier-neutral: a `MediaSide` builds and checks the carrier's frames (Twilio's
`TwilioCarrierSide` as it is; Telnyx's through bridge/sim/telnyx_stream.py), and a `line`
callable says what goes on the wire each 20 ms, so a carrier's quirks (Telnyx's reordered
frames, its codecs) stay with that carrier. `open_stream` is the Twilio entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import aiohttp

from bridge.carriers.base import ClearAudio, Command, PlaceMark, PlayAudio, ProtocolViolation
from bridge.carriers.twilio import INVALID_MESSAGE, TwilioCarrierSide
from bridge.sim.carrier_http import SignedHttp
from bridge.sim.softphone import FRAME_S, SILENCE, Holes, Playout, ReceivedMedia, check_clock_ppm
from bridge.sim.softphone_record import Recording
from bridge.sim.twiml_parse import Stream

HANDSHAKE_ERROR = 31920
CONNECTION_ERROR = 31902
URL_SCHEME_ERROR = 31922
MALFORMED_URL = 31923


def new_sid(prefix: str) -> str:
    """A Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + uuid.uuid4().hex


class MediaSide(Protocol):
    """The carrier's end of one media stream, as the session needs it: the frames it sends and
    its parse of ours (`PlayAudio` payloads in mu-law, what `Playout` and `Recording` hold)."""

    @property
    def stream_sid(self) -> str: ...

    def connected(self) -> str | None:
        """The frame that opens the stream before `start` (None: the carrier sends none)."""

    def start(self, custom_parameters: Mapping[str, str]) -> str: ...

    def dtmf(self, digit: str) -> str: ...

    def mark(self, name: str) -> str: ...

    def stop(self) -> str | None:
        """The frame that ends the stream before the close (None: the carrier just closes)."""

    def parse(self, message: str | bytes) -> Command: ...


# The frames the line puts on the wire in one 20 ms tick (usually one `media` frame; a `bytes`
# frame goes as a binary message, as Vonage sends audio).
Line = Callable[[], Sequence[str | bytes]]
# The carrier's answer to a frame it refused (Telnyx sends an `error` frame), if it answers.
Refusal = Callable[[ProtocolViolation], str | None]


class StreamSession:
    def __init__(
        self,
        record: Recording,
        ws: aiohttp.ClientWebSocketResponse,
        side: MediaSide,
        line: Line,
        refusal: Refusal | None = None,
        clock_ppm: float = 0.0,
    ) -> None:
        """`clock_ppm`: how fast the carrier's clock runs against real time (parts per
        million; positive is fast), within +-100000 (ValueError otherwise)."""
        self._record = record
        self._ws = ws
        self._side = side
        self._line_frames = line  # the party's next 20 ms of voice, as the carrier frames it
        self._refusal = refusal
        self._playout = Playout()
        self._holes = Holes()
        self.clock_ppm = check_clock_ppm(clock_ppm)
        self.tick_s = FRAME_S / (1 + self.clock_ppm / 1e6)  # 20 ms of the carrier's clock
        self._stalls: list[tuple[float, float]] = []  # (from, until) in loop time, in order
        self._stalled_tick = False  # the previous tick fell in a stall

    async def run(self, parameters: dict[str, str]) -> None:
        """Runs until the bridge closes the socket; on cancellation Twilio-style teardown."""
        record, ws, side = self._record, self._ws, self._side
        line: asyncio.Task[None] | None = None
        try:
            opening = side.connected()
            if opening is not None:
                await ws.send_str(opening)
            await ws.send_str(side.start(parameters))
            record.stream_sids.append(side.stream_sid)
            record.stream_parameters = dict(parameters)
            record.stream_started_at = time.perf_counter()
            record.stream_started.set()
            line = asyncio.create_task(self._line(), name=f"sim-line-{side.stream_sid}")
            await self._receive()
        except (ConnectionError, aiohttp.ClientError):
            record.close_code, record.closed_by = ws.close_code, "bridge"
        finally:
            if line is not None:
                line.cancel()
                await asyncio.wait([line])
                error = None if line.cancelled() else line.exception()
                if error is not None:
                    raise error  # a bug in the line loop: let the call record it
            if not ws.closed:  # we end it: hang-up, API update, or sim shutdown
                await self._close_from_carrier()
            record.stream_ended.set()
            record.notify()

    async def send_dtmf(self, digit: str) -> None:
        await self._ws.send_str(self._side.dtmf(digit))

    def stall(self, seconds: float) -> None:
        """Fault: the carrier's media loop freezes for `seconds` from now (a stall already
        running is extended): no frames sent, nothing played. On resuming, the party's voice of
        the frozen ticks goes out back to back; the loudspeaker heard silence for them (the
        queue untouched, listed in `Recording.stalls`), so queued audio plays `seconds` late."""
        if not seconds >= 0:
            raise ValueError(f"a stall lasts zero seconds or more, got {seconds}")
        now = asyncio.get_running_loop().time()
        if self._stalls and self._stalls[-1][1] >= now:
            start, until = self._stalls[-1]
            self._stalls[-1] = (start, max(until, now + seconds))
        else:
            self._stalls.append((now, now + seconds))

    def drop(self) -> None:
        """The carrier's media server loses the connection: no `stop`, no close frame, the TCP
        connection just ends (the bridge must end the call as a hang-up)."""
        sock = self._ws.get_extra_info("socket")
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)

    async def _close_from_carrier(self) -> None:
        record = self._record
        record.close_code, record.close_reason, record.closed_by = 1000, "", "carrier"
        stop = self._side.stop()
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
            if stop is not None:
                await self._ws.send_str(stop)
        await self._ws.close(code=1000)

    async def _line(self) -> None:
        ws, record = self._ws, self._record
        loop = asyncio.get_running_loop()
        epoch = loop.time()
        n = 0
        try:
            while True:
                await self._sit_out_stall(loop)
                due = epoch + n * self.tick_s
                for frame in self._line_frames():
                    await send(ws, frame)
                if self._in_stall(due):
                    self._play_stalled(time.perf_counter() - (loop.time() - due))
                else:
                    await self._play()
                record.notify()
                n += 1
                delay = epoch + n * self.tick_s - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
        except (ConnectionError, aiohttp.ClientError):
            return  # the socket is gone; the receiver sees the close

    async def _play(self) -> None:
        record, playout = self._record, self._playout
        heard, played, echoes = playout.tick()
        index = record.play_tick(heard, played, time.perf_counter(), playout.queued_bytes)
        hole = self._holes.tick(index, played)
        if hole is not None:
            record.holes.append(hole)
        self._stalled_tick = False
        await self._echo(echoes)

    def _play_stalled(self, at: float) -> None:
        """A tick the line was frozen for: silence, at `at` (perf_counter() when it was due);
        the queue after it is the queue now, as the stall ends."""
        record = self._record
        index = record.play_tick(SILENCE, 0, at, self._playout.queued_bytes)
        if self._stalled_tick:
            start, length = record.stalls[-1]
            record.stalls[-1] = (start, length + 1)
        else:
            record.stalls.append((index, 1))
        self._stalled_tick = True

    async def _sit_out_stall(self, loop: asyncio.AbstractEventLoop) -> None:
        """Sleeps while a stall covers now (rechecked: a stall may be extended meanwhile)."""
        while True:
            now = loop.time()
            until = max((end for start, end in self._stalls if start <= now < end), default=now)
            if until <= now:
                return
            await asyncio.sleep(until - now)

    def _in_stall(self, due: float) -> bool:
        """Whether the tick due at `due` (loop time) fell in a stall; forgets past stalls (the
        ticks come in order)."""
        while self._stalls and self._stalls[0][1] <= due:
            self._stalls.pop(0)
        return bool(self._stalls) and self._stalls[0][0] <= due

    async def _receive(self) -> None:
        ws, record = self._ws, self._record
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                await self._handle(msg.data)  # the side refuses binary frames as its carrier does
            else:  # CLOSE (the bridge closed), CLOSED, ERROR
                if msg.type is aiohttp.WSMsgType.CLOSE:
                    record.close_code, record.close_reason = msg.data, msg.extra or ""
                else:
                    record.close_code = ws.close_code
                record.closed_by = "bridge"
                return

    async def _handle(self, data: str | bytes) -> None:
        record, playout = self._record, self._playout
        try:
            command = self._side.parse(data)
        except ProtocolViolation as violation:
            record.warn(violation.code or INVALID_MESSAGE, violation.reason)
            answer = self._refusal(violation) if self._refusal is not None else None
            if answer is not None:
                await self._ws.send_str(answer)
            record.notify()
            return
        echoes: list[str] = []
        if isinstance(command, PlayAudio):
            now = time.perf_counter()
            if record.first_media_at is None:
                record.first_media_at = now
            record.media_received.append(ReceivedMedia(command.payload, now))
            record.received_bytes += len(command.payload)
            playout.push_audio(command.payload)
        elif isinstance(command, PlaceMark):
            record.marks_received.append(command.name)
            echoes = playout.push_mark(command.name)
        elif isinstance(command, ClearAudio):
            record.clears.append(time.perf_counter())
            echoes = playout.clear()
        await self._echo(echoes)
        record.notify()

    async def _echo(self, names: list[str]) -> None:
        for name in names:
            self._record.marks_echoed.append(name)
            await self._ws.send_str(self._side.mark(name))


async def send(ws: aiohttp.ClientWebSocketResponse, frame: str | bytes) -> None:
    """`frame` as a text message, or a binary one for `bytes`."""
    if isinstance(frame, bytes):
        await ws.send_bytes(frame)
    else:
        await ws.send_str(frame)


async def open_stream(
    http: SignedHttp,
    record: Recording,
    stream: Stream,
    call_sid: str,
    account_sid: str,
    speak: Callable[[], bytes],
    clock_ppm: float = 0.0,
) -> StreamSession | None:
    """Connects one stream (then `run` it); None, and Twilio's warning, if it cannot connect.
    `clock_ppm`: the carrier clock's skew (see `StreamSession`)."""
    scheme = stream.url.split(":", 1)[0].lower()
    if scheme not in ("ws", "wss"):
        record.warn(URL_SCHEME_ERROR, f"stream URL scheme {scheme!r} is not wss")
        return None
    if "?" in stream.url:  # Twilio: "query strings are not supported", use <Parameter>
        record.warn(MALFORMED_URL, "stream URL has a query string; Twilio does not support it")
    try:
        ws = await http.ws_connect(stream.url)
    except aiohttp.WSServerHandshakeError as error:
        record.warn(HANDSHAKE_ERROR, f"stream handshake got HTTP {error.status}")
        return None
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        record.warn(CONNECTION_ERROR, f"stream connection failed: {type(error).__name__}")
        return None
    side = TwilioCarrierSide(new_sid("MZ"), call_sid, account_sid)
    return StreamSession(record, ws, side, lambda: [side.media(speak())], clock_ppm=clock_ppm)
