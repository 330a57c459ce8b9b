"""The simulator's stream endpoint: token check at the handshake, then one `StreamConnection`.

A drop is a real close handshake initiated by the server (code 1012, "service restart"), after
which the connection keeps reading until the client's close reply: what the client sent before it
learned of the drop still arrives and is recorded, exactly as TCP would deliver it to a server that
shuts down gracefully. A stall stops all answers and output but keeps the socket open.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import struct
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from bridge.audio import AudioFormat
from bridge.kallglot import messages as m
from bridge.sim.kallglot_http import REQUEST_ID, error
from bridge.sim.kallglot_state import SessionRecord
from bridge.sim.kallglot_translate import FLAT, NESTED, SHAPES, OutputShape, Translator
from bridge.tasks import cancel_and_wait

if TYPE_CHECKING:
    from bridge.sim.kallglot import KallglotSimulator

LEGACY_ENCODINGS = ("pcm_16", "mulaw", "alaw")
LEGACY_RATES = (8000, 16000)
SPEAKERS = ("customer", "agent")


def add_routes(app: web.Application, sim: KallglotSimulator) -> None:
    async def connect(request: web.Request) -> web.StreamResponse:
        return await handle_connect(sim, request)

    app.router.add_get("/v1/sessions/{id}/connect", connect)


async def handle_connect(sim: KallglotSimulator, request: web.Request) -> web.StreamResponse:
    record = sim.sessions.get(request.match_info["id"])
    if record is None:
        return error(404, "invalid_request_error", "session_not_found", "no such session")
    if record.ended:
        return error(410, "invalid_request_error", "session_ended", "session has ended")
    auth = request.headers.get("Authorization", "")
    token = request.query.get("token") or (auth[7:] if auth.startswith("Bearer ") else None)
    problem = sim.token_problem(token, record.id)
    if problem is not None:
        record.token_refusals += 1
        record.changed.fire()
        why = "has expired" if problem == "expired_token" else "is not valid for this session"
        return error(
            401, "authentication_error", problem,
            f"the stream token {why}; GET /v1/sessions/{record.id} returns a current one",
        )  # fmt: skip
    if sim.faults.refuse_reconnects and record.connections >= 1:
        record.refused_connections += 1
        record.changed.fire()
        return error(503, "api_error", "reconnect_refused", "simulated: no reconnects")
    ws = web.WebSocketResponse(autoping=False, max_msg_size=2**23)
    ws.headers["X-Request-ID"] = REQUEST_ID.get() or ""
    await ws.prepare(request)
    return await StreamConnection(sim, record, ws, request).serve()


class StreamConnection:
    def __init__(
        self,
        sim: KallglotSimulator,
        record: SessionRecord,
        ws: web.WebSocketResponse,
        request: web.Request,
    ) -> None:
        self.sim = sim
        self.record = record
        self.ws = ws
        self.dropping = False
        self.stall = False  # this connection only; `faults.stall` stalls every connection
        self._request = request
        self._translator: Translator | None = None
        self._delayed: deque[tuple[float, dict[str, Any]]] = deque()
        self._wake = asyncio.Event()
        self._done = asyncio.Event()
        self._ended = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def stalled(self) -> bool:
        return self.sim.faults.stall or self.stall

    async def serve(self) -> web.WebSocketResponse:
        sim, record = self.sim, self.record
        previous = sim.live.get(record.id)
        if previous is not None:
            await previous.abort()
        sim.live[record.id] = self
        record.connections += 1
        if record.status == "created":
            record.status, record.started_at = "active", sim.now()
        record.changed.fire()
        try:
            await self._send({"type": m.SESSION_READY, "session_id": record.id})
            if sim.faults.drop_after_s is not None:
                self._tasks.append(asyncio.create_task(self._drop_later(sim.faults.drop_after_s)))
            if sim.translation_delay_s > 0:
                self._tasks.append(asyncio.create_task(self._pump()))
            await self._receive_loop()
        finally:
            # Bookkeeping first and without awaiting: the handler may be cancelled right here
            # when the client goes away (aiohttp's test server cancels handlers on disconnect).
            if sim.live.get(record.id) is self:
                del sim.live[record.id]
            self._done.set()
            record.changed.fire()
            await cancel_and_wait(self._tasks)
        return self.ws

    async def _receive_loop(self) -> None:
        while True:
            msg = await self.ws.receive()
            if msg.type is WSMsgType.TEXT:
                await self._on_text(msg.data)
            elif msg.type is WSMsgType.PING:
                if not self.stalled:
                    await self.ws.pong(msg.data)
            elif msg.type is WSMsgType.BINARY:
                await self._error("invalid_message", "binary frames are not part of the protocol")
            elif msg.type is not WSMsgType.PONG:  # CLOSE, CLOSING, CLOSED, ERROR
                return

    async def _on_text(self, text: str) -> None:
        if self.stalled:
            return
        try:
            msg = json.loads(text)
        except ValueError:
            await self._error("invalid_message", "message is not JSON")
            return
        mtype = msg.get("type") if isinstance(msg, dict) else None
        if not isinstance(mtype, str):
            await self._error("invalid_message", "message needs a string `type`")
            return
        self.record.messages[mtype] += 1
        if mtype in (m.AUDIO_INPUT, m.LEGACY_AUDIO):
            await self._on_audio(msg, legacy=mtype == m.LEGACY_AUDIO)
        elif self.dropping:
            return
        elif mtype == m.PING:
            await self._send({"type": m.PONG, "session_id": self.record.id})
        elif mtype in (m.SESSION_END, m.LEGACY_END):
            if self.record.ended:
                await self.server_end(self.record.end_reason or "explicit_end")
            else:
                await self.sim.end(self.record, "explicit_end")
        else:
            await self._error("unknown_message_type", f"unknown message type {mtype[:40]!r}")

    async def _on_audio(self, msg: dict[str, Any], *, legacy: bool) -> None:
        parsed = _read_audio(msg, legacy)
        if isinstance(parsed, str):
            await self._error("invalid_audio_format", parsed)
            return
        speaker, fmt, data, sequence = parsed
        record = self.record
        record.protocol = record.protocol or ("legacy" if legacy else "current")
        record.record_audio(speaker, fmt, data, sequence)
        if self.dropping:
            return
        if self._translator is None:
            self._translator = Translator(
                record, legacy=legacy, shape=self._shape(legacy), seg=self.sim.segmentation,
                now=self.sim.now, talkspurts=self.sim.talkspurts,
                output_chunk_bytes=self.sim.output_chunk_bytes,
            )  # fmt: skip
        audio, transcripts = self._translator.audio(speaker, fmt, data)
        for message in transcripts:
            await self._send(message)
        delay = self.sim.translation_delay_s
        for message in audio:
            if delay <= 0:
                await self._send(message)
            else:
                self._delayed.append((asyncio.get_running_loop().time() + delay, message))
                self._wake.set()

    def _shape(self, legacy: bool) -> OutputShape:
        shape = self.sim.output_shape
        if isinstance(shape, OutputShape):
            return shape
        return SHAPES.get(shape) or (FLAT if legacy else NESTED)

    async def _pump(self) -> None:
        """Sends delayed translations when due (one task per connection, not one per chunk)."""
        loop = asyncio.get_running_loop()
        while True:
            if not self._delayed:
                self._wake.clear()
                await self._wake.wait()
                continue
            wait = self._delayed[0][0] - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await self._send(self._delayed.popleft()[1])

    async def _flush(self) -> None:
        while self._delayed:
            await self._send(self._delayed.popleft()[1])
        if self._translator is not None:
            for message in self._translator.finish():
                await self._send(message)

    async def server_end(self, reason: str) -> None:
        """The session ended (socket `session.end` or REST): finish, `session.ended`, close 1000."""
        if self._ended:
            return
        self._ended = True
        await self._flush()
        await self._send({"type": m.SESSION_ENDED, "session_id": self.record.id, "reason": reason})
        await self.ws.close(code=1000, message=b"session ended")

    async def drop(self, code: int) -> None:
        """Server-initiated close; returns when the client has answered (or after 2 s)."""
        if self.dropping or self.ws.closed:
            return
        self.dropping = True
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_frame(struct.pack("!H", code) + b"simulated drop", WSMsgType.CLOSE)
        try:
            async with asyncio.timeout(2.0):
                await self._done.wait()
        except TimeoutError:
            await self.abort()

    async def abort(self) -> None:
        """Cuts the TCP connection without a close handshake."""
        self.dropping = True
        transport = self._request.transport
        if transport is not None:
            transport.abort()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self._done.wait()

    async def _drop_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.drop(self.sim.faults.drop_code)

    async def _error(self, code: str, message: str) -> None:
        self.record.errors_sent.append(code)
        await self._send({"type": m.SESSION_ERROR, "code": code, "message": message})

    async def _send(self, message: dict[str, Any]) -> None:
        if self.dropping or self.stalled or self.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(json.dumps(message, separators=(",", ":")))
            if self._translator is not None:
                self._translator.sent(message, time.perf_counter())


def _read_audio(
    msg: dict[str, Any], legacy: bool
) -> tuple[str, AudioFormat, bytes, int | None] | str:
    """(speaker, format, bytes, sequence), or the reason the message is refused."""
    if legacy:
        source: Any = msg
        encoding, rate, payload = msg.get("encoding"), msg.get("sample_rate"), msg.get("data")
        if encoding not in LEGACY_ENCODINGS or rate not in LEGACY_RATES:
            return f"legacy audio must be one of {LEGACY_ENCODINGS} at {LEGACY_RATES} Hz"
        if msg.get("channels", 1) != 1:
            return "only mono audio is supported"
    else:
        source = msg.get("audio")
        if not isinstance(source, dict):
            return "audio.input needs an `audio` object"
        encoding, rate = source.get("encoding"), source.get("sample_rate_hz")
        payload = source.get("payload")
        if encoding != "mulaw" or rate != 8000 or isinstance(rate, bool):
            return "v1 accepts mulaw at sample_rate_hz 8000 only"
    if not isinstance(encoding, str) or type(rate) is not int:  # 8000.0 == 8000, but not JSON int
        return "sample rate must be an integer number of Hz"
    enc = m.encoding_from_name(encoding)
    speaker = msg.get("speaker", "customer" if legacy else None)
    if speaker not in SPEAKERS:
        return "`speaker` must be customer or agent"
    sequence = msg.get("sequence")
    if sequence is not None and (not isinstance(sequence, int) or isinstance(sequence, bool)):
        return "`sequence` must be an integer"
    if not isinstance(payload, str) or enc is None:
        return "audio payload must be a base64 string"
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return "audio payload is not valid base64"
    fmt = AudioFormat(enc, rate)
    if len(data) % fmt.encoding.bytes_per_sample:
        return "audio payload is not whole samples"
    return speaker, fmt, data, sequence
