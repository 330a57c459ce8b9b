"""A call's media streams: started and stopped by commands, one at a time.

`answer`, `streaming_start` and an answered dial start a stream; `streaming_stop`, a newer
stream and the end of the call stop it (`stop`, then close, by `StreamSession`'s teardown).
Each stream runs in a task of its own, so a REST handler that starts or stops one returns at
once. Telnyx reports each by webhook: `streaming.started`, `streaming.stopped`, or
`streaming.failed` when the socket could not be opened (carriers.md §4.1).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import structlog

from bridge.carriers.telnyx.protocol import TelnyxCarrierSide
from bridge.sim.carrier_stream import StreamSession
from bridge.sim.softphone_record import Recording
from bridge.sim.telnyx_fields import StreamRequest
from bridge.sim.telnyx_http import TelnyxHttp
from bridge.sim.telnyx_quirks import TelnyxQuirks
from bridge.sim.telnyx_stream import TelnyxMediaSide

STREAM_FAILED = 1  # not a Telnyx code: the simulator's warning for a stream that did not connect
SIMULATOR_ERROR = 0  # not a Telnyx code: the simulator itself failed

log = structlog.get_logger(__name__)


class StreamingCall(Protocol):
    """What the streams need from their call (a `Recording` too)."""

    sid: str
    call_session_id: str
    from_: str
    to: str
    client_state: str | None
    quirks: TelnyxQuirks

    def emit(self, event_type: str, extra: dict[str, Any], client_state: str | None) -> None: ...


class CallStreams:
    def __init__(
        self,
        http: TelnyxHttp,
        call: StreamingCall,
        record: Recording,
        speak: Callable[[], bytes],
        clock_ppm: Callable[[], float] = lambda: 0.0,
    ) -> None:
        """`clock_ppm` gives the carrier's clock skew, read as each stream starts."""
        self._http, self._call, self._record, self._speak = http, call, record, speak
        self._clock_ppm = clock_ppm
        self.session: StreamSession | None = None  # the stream up now, if any
        self._current: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # the current one, and any still ending

    def start(self, request: StreamRequest) -> None:
        """A new stream, once the running one (if any) has been stopped."""
        previous = self._current
        name = f"sim-telnyx-stream-{self._call.sid}"
        self._current = task = asyncio.create_task(self._run(request, previous), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def stop(self) -> None:
        if self._current is not None:
            self._current.cancel()

    async def close(self) -> None:
        """Stops every stream and waits until each has sent `stop` and closed."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _run(self, request: StreamRequest, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            previous.cancel()
            await asyncio.wait([previous])
        try:
            await self._stream(request)
        except Exception as error:  # a simulator bug: the stream ends, visibly
            self._record.warn(SIMULATOR_ERROR, f"simulator error in a stream: {error!r}")
            log.exception("sim_telnyx_stream_failed", call_control_id=self._call.sid)

    async def _stream(self, request: StreamRequest) -> None:
        call, record = self._call, self._record
        state = call.client_state
        try:
            ws = await self._http.ws_connect(request.url, request.auth_token)
        except aiohttp.WSServerHandshakeError as error:
            self._failed(request, f"stream handshake got HTTP {error.status}")
            return
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            self._failed(request, f"stream connection failed: {type(error).__name__}")
            return
        side = TelnyxCarrierSide(
            str(uuid.uuid4()),
            call.sid,
            call_session_id=call.call_session_id,
            from_number=call.from_,
            to_number=call.to,
            encoding=request.codec,
            client_state=state,
            user_id=str(uuid.uuid4()),
        )
        media = TelnyxMediaSide(side, request, call.quirks, self._speak)
        self.session = session = StreamSession(
            record, ws, media, media.line, media.refusal, self._clock_ppm()
        )
        call.emit("streaming.started", {"stream_url": request.url}, state)
        try:
            await session.run(dict(request.parameters))
        finally:
            self.session = None
            call.emit("streaming.stopped", {"stream_url": request.url}, state)

    def _failed(self, request: StreamRequest, reason: str) -> None:
        self._record.warn(STREAM_FAILED, reason)
        extra = {"failure_reason": reason, "stream_url": request.url}
        self._call.emit("streaming.failed", extra, self._call.client_state)
