"""One simulated Vonage call: an NCCO run to its end, status events, REST changes mid-call.

An inbound call fetches its NCCO from the answer URL (signed, GET by default), a dialled one
brings it inline, rings its callee and runs it once answered (vonage_exec.py runs it). Either
way the call is over when the NCCO runs out, the party hangs up, or the REST API hangs it up; a
REST transfer replaces the running NCCO (closing its media stream). Status events go to the
call's event URL in order (vonage_events.py), the last one saying how it ended: `completed`,
`busy`, `timeout`, `failed`, `cancelled`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from bridge.sim.carrier_stream import StreamSession
from bridge.sim.party import SimulatedParty, ring
from bridge.sim.softphone import Phone
from bridge.sim.vonage_events import EventRecord, Events, iso_now
from bridge.sim.vonage_exec import NccoRunner
from bridge.sim.vonage_http import VonageHttp
from bridge.sim.vonage_ncco import INVALID_NCCO, Action, NccoError, parse_ncco_text

WEBHOOK_DRAIN_S = 10.0
SIMULATOR_ERROR = 0  # not a Vonage code: the simulator itself failed

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class VonageCallSetup:
    """What the dial (or a test placing an inbound call) asked for; numbers in E.164."""

    direction: str  # "inbound" or "outbound", as Vonage says it
    from_: str
    to: str
    event_url: str | None
    answer_url: str | None = None  # inbound: where the NCCO is fetched
    answer_method: str = "GET"
    ncco: list[Action] = field(default_factory=list)  # outbound: run once answered
    ringing_timer_s: float = 60.0


class VonageSimCall(SimulatedParty):
    """A Vonage call in the simulator, seen from the party at its far end.

    The test-facing surface of the Twilio `SimCall`, in Vonage's words: `sid` is the call's
    uuid, `direction` "inbound" or "outbound", `api_updates` the REST actions carried out
    ("hangup", "transfer"), `statuses` the status events ("started", "ringing", "answered",
    "completed", ...). Vonage's own: `webhooks` (every webhook delivered, and its HTTP status),
    `transfers` (numbers a `connect` to a phone handed the call to), `stream_rates` (each
    stream's L16 rate), `stream_parameters` (the latest websocket's headers).
    """

    def __init__(
        self,
        http: VonageHttp,
        setup: VonageCallSetup,
        phone: Phone | None,
        clock_ppm: Callable[[], float] = lambda: 0.0,
    ) -> None:
        super().__init__(phone)
        self.sid, self.conversation_uuid = str(uuid.uuid4()), "CON-" + str(uuid.uuid4())
        self.setup, self.phone, self.http, self.clock_ppm = setup, phone, http, clock_ppm
        self.direction, self.from_, self.to = setup.direction, setup.from_, setup.to
        self.transfers: list[str] = []
        self.stream_rates: list[int] = []  # each media stream's sample rate, as the NCCO asked
        self.events = Events(http, self, setup.event_url)
        self.session: StreamSession | None = None  # the NCCO runner's stream, while up
        self._cause: str | None = None
        self._replacement: list[Action] | None = None
        self._finishing = self._shutdown = False
        self._task: asyncio.Task[None] | None = None
        self._program: asyncio.Task[None] | None = None
        self._hangup_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"VonageSimCall({self.sid!r}, {self.direction}, {self.from_} -> {self.to})"

    @property
    def live(self) -> bool:
        return self._cause is None and not self._finishing

    @property
    def webhooks(self) -> list[EventRecord]:
        """Every webhook delivered for this call, in order, with the HTTP status it got."""
        return self.events.sent

    # ---- the party ----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._lifecycle(), name=f"sim-vonage-call-{self.sid}")

    async def hang_up(self) -> None:
        """The party hangs up; returns once the call has ended and its events went out."""
        self._end("completed" if self.answered.is_set() else "cancelled")
        await self.ended.wait()

    def _stream(self) -> StreamSession | None:
        return self.session  # keys go out as `websocket:dtmf`

    def key_pressed(self, digit: str) -> None:
        """A key the input action took (Vonage reports it in the input result only)."""

    # ---- REST (each returns at once) ------------------------------------------------------------

    def rest_hangup(self) -> None:
        self.api_updates.append("hangup")
        self._end("completed" if self.answered.is_set() else "cancelled")

    def rest_transfer(self, ncco: list[Action]) -> None:
        """The running NCCO (and its stream) stops; `ncco` runs instead."""
        self.api_updates.append("transfer")
        self._replacement = ncco
        if self._program is not None:
            self._program.cancel()

    async def close(self) -> None:
        """Simulator shutdown: end the call without webhooks, and wait for it."""
        self._shutdown = True
        await self.events.cancel()
        if self._task is not None and not self._task.done():
            self._end(self._cause or "completed")
            await asyncio.wait([self._task])

    def _end(self, cause: str) -> None:
        if self._finishing or self._task is None or self._cause is not None:
            return
        self._cause = cause
        self._task.cancel()

    # ---- lifecycle ----------------------------------------------------------------------------

    def _status(self, status: str) -> None:
        self.statuses.append(status)
        self.events.emit(
            {
                "uuid": self.sid,
                "conversation_uuid": self.conversation_uuid,
                "status": status,
                "direction": self.direction,
                "from": self.from_.removeprefix("+"),
                "to": self.to.removeprefix("+"),
                "timestamp": iso_now(),
            }
        )
        self.notify()

    async def _lifecycle(self) -> None:
        try:
            ncco = await (self._inbound() if self.direction == "inbound" else self._outbound())
            while ncco:
                self._program = asyncio.create_task(NccoRunner(self, self).run(ncco))
                try:
                    await self._program
                    ncco = []
                except asyncio.CancelledError:
                    if self._replacement is None or self._cause is not None:
                        raise
                    ncco, self._replacement = self._replacement, None
            self._cause = self._cause or "completed"
        except asyncio.CancelledError:
            pass  # an end; `_cause` says which
        except Exception as error:  # a simulator bug: end the call, and make it visible
            self.warn(SIMULATOR_ERROR, f"simulator error: {error!r}")
            log.exception("sim_vonage_call_failed", call_uuid=self.sid)
            self._cause = self._cause or "failed"
        finally:
            await self._finish()

    async def _inbound(self) -> list[Action]:
        self._status("started")
        self._status("ringing")
        url = self.setup.answer_url
        query = {
            "to": self.to.removeprefix("+"),
            "from": self.from_.removeprefix("+"),
            "uuid": self.sid,
            "conversation_uuid": self.conversation_uuid,
        }
        if url is None:
            status, body = None, "no answer URL"
        elif self.setup.answer_method == "GET":
            status, body = await self.http.get(url, query)
        else:
            status, body = await self.events.send_now(url, query)
        try:
            if status is None or not 200 <= status < 300:
                raise NccoError(f"the answer URL got {status or body}: {body[:200]}")
            ncco = parse_ncco_text(body)
        except NccoError as error:
            self.warn(INVALID_NCCO, str(error))
            self._cause = "failed"
            return []
        self._answer()
        return ncco

    async def _outbound(self) -> list[Action]:
        await asyncio.sleep(0.01)  # the network sets the call up
        self._status("started")
        phone, timer = self.phone, self.setup.ringing_timer_s
        if phone is None:
            self._cause = "failed"
            return []
        self._status("ringing")
        outcome = await ring(phone, timer)
        if outcome != "answer":
            causes = {"no-answer": "timeout", "timeout": "timeout", "busy": "busy"}
            self._cause = causes.get(outcome, "failed")
            return []
        self._answer()
        return list(self.setup.ncco)

    def _answer(self) -> None:
        self.answered.set()
        self._status("answered")
        after = self.phone.hangup_after_s if self.phone else None
        if after is not None:
            loop = asyncio.get_running_loop()
            self._hangup_timer = loop.call_later(after, self._end, "completed")

    async def _finish(self) -> None:
        self._finishing = True
        if self._hangup_timer is not None:
            self._hangup_timer.cancel()
        if self._program is not None and not self._program.done():
            self._program.cancel()
            await asyncio.wait([self._program])
        self._status(self._cause or "completed")
        if not self._shutdown:
            await self.events.drain(WEBHOOK_DRAIN_S)
        self.ended.set()
        self.fail_waiters()
