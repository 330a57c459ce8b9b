"""One simulated Plivo call: ringing, answer, the XML, hang-up, and the callbacks on the way.

A call is one task (its lifecycle); its XML runs in a child task (plivo_run.py) so that a
transfer over REST can replace it (cancel the child, fetch and run the new document) while a
hang-up (by the party, by a REST `DELETE`, at shutdown) cancels the lifecycle itself. A running
stream then just closes: Plivo sends no `stop`.

Plivo's words: `direction` is "inbound" or "outbound"; `statuses` run "ringing",
"in-progress" and the final CallStatus ("completed", "busy", "no-answer", "timeout",
"cancel", "failed"); `api_updates` are "hangup" (DELETE Call), "cancel" (DELETE Request) and
"transfer" (POST Call with aleg_url).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from bridge.sim.party import SimulatedParty, ring
from bridge.sim.plivo_http import Callbacks, PlivoHttp
from bridge.sim.plivo_run import run_call
from bridge.sim.plivo_stream import PlivoStreamSession, open_stream
from bridge.sim.plivo_xml import Element, PlivoXmlError, Stream, parse_plivo_xml
from bridge.sim.softphone import Phone

CALLBACK_DRAIN_S = 10.0
DOCUMENT_FAILED = 4030  # the simulator's codes (Plivo documents none)
SIMULATOR_ERROR = 0

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PlivoCallSetup:
    direction: str  # "inbound" or "outbound"
    from_: str
    to: str
    answer_url: str | None
    answer_method: str = "POST"
    ring_url: str | None = None
    hangup_url: str | None = None
    ring_timeout_s: float = 60.0
    request_uuid: str | None = None


class PlivoSimCall(SimulatedParty):
    """A Plivo call in the simulator, seen from the party at its far end."""

    def __init__(
        self,
        http: PlivoHttp,
        auth_id: str,
        setup: PlivoCallSetup,
        phone: Phone | None,
        clock_ppm: Callable[[], float] = lambda: 0.0,
    ) -> None:
        super().__init__(phone)
        self.sid = self.call_uuid = str(uuid.uuid4())
        self.request_uuid = setup.request_uuid
        self.auth_id, self.setup, self.phone = auth_id, setup, phone
        self.direction, self.from_, self.to = setup.direction, setup.from_, setup.to
        self.transfers: list[str] = []
        self.hangup_cause: str | None = None
        self.answered_at: datetime | None = None
        self._http, self._clock_ppm = http, clock_ppm
        self._final: str | None = None
        self._finishing = self._shutdown = False
        self._transfer: str | None = None
        self._session: PlivoStreamSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._runner_task: asyncio.Task[Any] | None = None
        self._hangup_timer: asyncio.TimerHandle | None = None
        self._callbacks = Callbacks(http, self)

    def __repr__(self) -> str:
        return f"PlivoSimCall({self.sid!r}, {self.direction}, {self.from_} -> {self.to})"

    @property
    def live(self) -> bool:
        return not self._finishing and self._final is None

    @property
    def ringing(self) -> bool:
        """A dial not yet answered: `DELETE Request/` cancels it."""
        return self.live and not self.answered.is_set()

    # ---- the party ----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._lifecycle(), name=f"sim-plivo-call-{self.sid}")

    async def hang_up(self) -> None:
        """The party hangs up; returns once the call has ended and callbacks went out."""
        self._end("completed" if self.answered.is_set() else "cancel")
        await self.ended.wait()

    def _stream(self) -> PlivoStreamSession | None:
        return self._session

    # ---- control by the REST API (each returns at once) ----------------------------------------

    def api_hangup(self) -> None:
        self.api_updates.append("hangup")
        self._end("completed" if self.answered.is_set() else "cancel")

    def api_cancel(self) -> None:
        self.api_updates.append("cancel")
        self._end("cancel")

    def api_transfer(self, url: str) -> None:
        """The A leg runs the XML at `url` instead of what it runs now (a stream closes)."""
        self.api_updates.append("transfer")
        self._transfer = url
        if self._runner_task is not None:
            self._runner_task.cancel()

    async def close(self) -> None:
        """Simulator shutdown: end the call without callbacks, and wait for it."""
        self._shutdown = True
        await self._callbacks.cancel()
        if self._task is not None and not self._task.done():
            self._end(self._final or "completed")
            await asyncio.wait([self._task])

    def _end(self, status: str) -> None:
        if self._finishing or self._task is None or self._final is not None:
            return
        self._final = status
        self._task.cancel()

    # ---- used by the XML runner ---------------------------------------------------------------

    def params(self, status: str | None = None) -> dict[str, str]:
        params = {
            "CallUUID": self.sid,
            "From": self.from_.lstrip("+"),
            "To": self.to.lstrip("+"),
            "Direction": self.direction,
            "CallStatus": status or self.status,
            "Event": "StartApp",
        }
        if self.request_uuid is not None:
            params["RequestUUID"] = self.request_uuid
        return params

    async def fetch(
        self, url: str, method: str, extra: dict[str, str]
    ) -> tuple[Element, ...] | None:
        status, body = await self._http.request(url, self.params() | extra, method)
        if status is None or not 200 <= status < 300:
            self.warn(DOCUMENT_FAILED, f"{method} {url} failed: {status or body}")
            return None
        try:
            return parse_plivo_xml(body)
        except PlivoXmlError as error:
            self.warn(DOCUMENT_FAILED, f"{url}: {error}")
            return None

    async def run_stream(self, stream: Stream) -> None:
        session = await open_stream(
            self._http, self, stream, self.sid, self.auth_id, self.next_frame, self._clock_ppm()
        )
        if session is None:
            return
        self._session = session
        try:
            await session.run(dict(stream.extra_headers))
        finally:
            self._session = None

    def take_transfer(self) -> str | None:
        url, self._transfer = self._transfer, None
        return url

    # ---- lifecycle ----------------------------------------------------------------------------

    async def _lifecycle(self) -> None:
        try:
            if await self._connect():
                await run_call(self, self.setup.answer_url, self.setup.answer_method)
        except asyncio.CancelledError:
            pass  # a hang-up; `_final` says which kind
        except Exception as error:  # a simulator bug: end the call, and make it visible
            self.warn(SIMULATOR_ERROR, f"simulator error: {error!r}")
            log.exception("sim_plivo_call_failed", call_uuid=self.sid)
            self._final = self._final or "failed"
        finally:
            await self._finish()

    def set_runner(self, task: asyncio.Task[Any] | None) -> None:
        self._runner_task = task

    async def _connect(self) -> bool:
        """Ring and answer (or not). True once the call is in progress."""
        if self.direction == "inbound":
            self._status("ringing")
            self._answer()
            return True
        await asyncio.sleep(0.01)  # the network sets the call up
        phone, timeout = self.phone, self.setup.ring_timeout_s
        if phone is None:
            self._final = "failed"  # no such number
            return False
        self._status("ringing")
        self._callbacks.send(self.setup.ring_url, "POST", self.params())
        outcome = await ring(phone, timeout)
        if outcome != "answer":
            self._final = outcome  # Plivo's own words: no-answer, timeout, busy, failed
            return False
        self._answer()
        return True

    def _answer(self) -> None:
        self.answered_at = datetime.now(UTC)
        self._status("in-progress")
        self.answered.set()
        after = self.phone.hangup_after_s if self.phone else None
        if after is not None:
            loop = asyncio.get_running_loop()
            self._hangup_timer = loop.call_later(after, self._end, "completed")

    async def _finish(self) -> None:
        self._finishing = True
        if self._hangup_timer is not None:
            self._hangup_timer.cancel()
        final = self._final or "completed"
        self.hangup_cause = {"completed": "NORMAL_CLEARING", "busy": "USER_BUSY"}.get(
            final, final.upper().replace("-", "_")
        )
        self._status(final)
        params = self.params(final) | {"Event": "Hangup", "HangupCause": self.hangup_cause}
        if self.answered_at is not None:
            duration = (datetime.now(UTC) - self.answered_at).total_seconds()
            params["Duration"] = str(int(duration))
        if not self._shutdown:
            self._callbacks.send(self.setup.hangup_url, "POST", params)
            await self._callbacks.drain(CALLBACK_DRAIN_S)
        self.ended.set()
        self.fail_waiters()

    def _status(self, status: str) -> None:
        self.statuses.append(status)
        self.notify()
