"""One simulated call: ringing, answer, TwiML, hang-up, and the status callbacks on the way.

A call is one task (its lifecycle). The TwiML runs in a child task so that a REST update can
replace it (cancel the child, run the new document) while a hang-up — by the party, by a REST
`Status=completed`, or at simulator shutdown — cancels the lifecycle itself. Either way the
running media stream is torn down the way Twilio does it: `stop`, then close.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.sim.carrier_callbacks import StatusCallbacks
from bridge.sim.carrier_http import SignedHttp
from bridge.sim.carrier_stream import StreamSession, open_stream
from bridge.sim.party import SimulatedParty, ring
from bridge.sim.softphone import SILENCE, Phone
from bridge.sim.twiml_exec import Document, TwimlRunner
from bridge.sim.twiml_parse import Stream, TwimlError, Verb, parse_twiml

API_VERSION = "2010-04-01"
HTTP_RETRIEVAL_FAILURE = 11200
DOCUMENT_PARSE_FAILURE = 12100
CALLBACK_DRAIN_S = 10.0
SIMULATOR_ERROR = 0  # not a Twilio code: the simulator itself failed

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class CallSetup:
    """What the REST create (or a test placing an inbound call) asked for."""

    direction: str  # "inbound" or "outbound-api"
    from_: str
    to: str
    document: Document
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_events: tuple[str, ...] = ("completed",)
    timeout_s: float = 60.0


class SimCall(SimulatedParty):
    """A call in the simulator, seen from the party at its far end (callee or caller).

    The party's voice goes out as Twilio's stream carries it: 8 kHz mu-law.
    """

    SILENCE_FRAME = SILENCE

    def __init__(
        self,
        http: SignedHttp,
        account_sid: str,
        sid: str,
        setup: CallSetup,
        phone: Phone | None,
        clock_ppm: Callable[[], float] = lambda: 0.0,
    ) -> None:
        """`clock_ppm` gives the carrier's clock skew, read as each media stream starts."""
        super().__init__(phone)
        self.sid, self.account_sid, self.setup, self.phone = sid, account_sid, setup, phone
        self.direction, self.from_, self.to = setup.direction, setup.from_, setup.to
        self.created_at = self.updated_at = datetime.now(UTC)
        self.answered_at: datetime | None = None
        self.ended_at: datetime | None = None
        self._http, self._clock_ppm = http, clock_ppm
        self._document = setup.document
        self._redirect: Document | None = None
        self._final: str | None = None
        self._finishing = False
        self._shutdown = False
        self._session: StreamSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._runner_task: asyncio.Task[None] | None = None
        self._hangup_timer: asyncio.TimerHandle | None = None
        self._callbacks = StatusCallbacks(
            http,
            self,
            setup.status_callback,
            setup.status_callback_method,
            setup.status_events,
        )
        if setup.direction != "inbound":
            self.statuses.append("queued")

    # ---- state seen by the REST API ---------------------------------------------------------

    @property
    def live(self) -> bool:
        return not self._finishing

    @property
    def reported_status(self) -> str:
        """The status the REST API shows: a requested hang-up shows at once."""
        return self._final if self._final and not self.ended.is_set() else self.status

    @property
    def duration_s(self) -> int | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return math.ceil((self.ended_at - self.answered_at).total_seconds())

    # ---- the party ----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._lifecycle(), name=f"sim-call-{self.sid}")

    async def hang_up(self) -> None:
        """The party hangs up; returns once the call has ended and callbacks were sent."""
        self._end("completed" if self.answered.is_set() else "canceled")
        await self.ended.wait()

    def _stream(self) -> StreamSession | None:
        return self._session

    def _encode(self, pcm: bytes) -> bytes:
        return codecs.encode(Encoding.MULAW, pcm)

    # ---- control by the REST API ----------------------------------------------------------

    def api_status(self, status: str) -> None:
        """`Status=completed` hangs up in any state; `canceled` only before the answer."""
        self.api_updates.append(f"Status={status}")
        if status == "canceled" and self.answered.is_set():
            return
        self._end("completed" if self.answered.is_set() else "canceled")

    def api_redirect(self, document: Document) -> None:
        """New TwiML: ends the running verb (a stream gets stop + close) and runs it."""
        self.api_updates.append("Twiml" if document.verbs is not None else "Url")
        self.updated_at = datetime.now(UTC)
        if not self.answered.is_set():
            self._document = document  # run when answered
        elif self._runner_task is not None:
            self._redirect = document
            self._runner_task.cancel()

    async def close(self) -> None:
        """Simulator shutdown: end the call without callbacks, and wait for it."""
        self._shutdown = True
        if self._task is not None and not self._task.done():
            self._end(self._final or "completed")
            await asyncio.wait([self._task])
        await self._callbacks.cancel()

    def _end(self, status: str) -> None:
        if self._finishing or self._task is None:
            return
        self._final = self._final or status
        self._task.cancel()

    # ---- used by the TwiML runner -------------------------------------------------------------

    def webhook_params(self) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid,
            "CallStatus": self.status,
            "Called": self.to,
            "Caller": self.from_,
            "Direction": self.direction,
            "From": self.from_,
            "To": self.to,
        }

    async def fetch_twiml(
        self, url: str, method: str, extra: Mapping[str, str]
    ) -> tuple[Verb, ...] | None:
        status, body = await self._http.request(url, self.webhook_params() | dict(extra), method)
        if status is None or not 200 <= status < 300:
            self.warn(HTTP_RETRIEVAL_FAILURE, f"{method} {url} failed: {status or body}")
            return None
        try:
            return parse_twiml(body)
        except TwimlError as error:
            self.warn(DOCUMENT_PARSE_FAILURE, str(error))
            return None

    async def run_stream(self, stream: Stream) -> None:
        session = await open_stream(
            self._http, self, stream, self.sid, self.account_sid, self.next_frame, self._clock_ppm()
        )
        if session is None:
            return
        self._session = session
        try:
            await session.run(dict(stream.parameters))
        finally:
            self._session = None

    # ---- lifecycle ------------------------------------------------------------------------

    async def _lifecycle(self) -> None:
        try:
            if await self._connect():
                await self._run_twiml()
        except asyncio.CancelledError:
            pass  # a hang-up; `_final` says which kind
        except Exception as error:  # a simulator bug: end the call, and make it visible
            self.warn(SIMULATOR_ERROR, f"simulator error: {error!r}")
            log.exception("sim_call_failed", call_sid=self.sid)
            self._final = self._final or "failed"
        finally:
            await self._finish()

    async def _connect(self) -> bool:
        """Ring and answer (or not). True once the call is in progress."""
        if self.direction == "inbound":
            self._set_status("ringing")
            verbs = await self.fetch_twiml(
                self._document.url or "", self._document.method, self._document.params
            )
            # A failed fetch leaves no URL to retry: the runner then says Twilio's apology.
            url = self._document.url if verbs is not None else None
            self._document = Document(url, self._document.method, verbs)
            self._answer()
            return True
        await asyncio.sleep(0.01)  # the network sets the call up
        self._set_status("initiated")
        phone, timeout = self.phone, self.setup.timeout_s
        if phone is None:
            self._final = "failed"  # no such number
            return False
        self._set_status("ringing")
        outcome = await ring(phone, timeout)
        if outcome != "answer":
            self._final = "no-answer" if outcome == "timeout" else outcome
            return False
        self._answer()
        return True

    def _answer(self) -> None:
        self.answered_at = datetime.now(UTC)
        self._set_status("in-progress")
        self.answered.set()
        after = self.phone.hangup_after_s if self.phone else None
        if after is not None:
            loop = asyncio.get_running_loop()
            self._hangup_timer = loop.call_later(after, self._end, "completed")

    async def _run_twiml(self) -> None:
        runner = TwimlRunner(self)
        document: Document | None = self._document
        while document is not None:
            self._runner_task = asyncio.create_task(runner.run(document))
            try:
                await self._runner_task
                document = None
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the call itself is ending
                document, self._redirect = self._redirect, None  # a REST update
            finally:
                self._runner_task = None

    async def _finish(self) -> None:
        self._finishing = True
        if self._hangup_timer is not None:
            self._hangup_timer.cancel()
        self.ended_at = datetime.now(UTC)
        self._set_status(self._final or "completed")
        if not self._shutdown:
            await self._callbacks.drain(CALLBACK_DRAIN_S)
        self.ended.set()
        self.fail_waiters()

    def _set_status(self, status: str) -> None:
        self.statuses.append(status)
        self.updated_at = datetime.now(UTC)
        self.notify()
        self._callbacks.status_changed(
            status, self.webhook_params(), self.updated_at, self.duration_s
        )
