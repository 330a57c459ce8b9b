"""One simulated Telnyx call: webhooks out, Call Control commands in, media streams on demand.

Unlike a Twilio call, which follows a TwiML document, a Telnyx call does nothing on its own
after `call.initiated`: it waits for commands (carriers.md §4). So the lifecycle task only sets
the call up (rings the callee of a dial) and then waits to be ended; commands from the REST API
act on the call directly and return at once, as Telnyx's do, reporting their outcome by
webhook. A media stream runs in a task of its own because a command starts and stops it; a
stream that ends (the bridge closes the socket) leaves the call up, as on Telnyx.

Ending, for any reason, cancels the lifecycle task; its `finally` stops the prompt and the
stream (`stop`, then close), reports `call.hangup` with the cause, and waits for the webhooks
to go out before `ended` is set. REST handlers never wait for any of that: the bridge may be
commanding from inside one of our webhooks, and waiting for our own delivery would deadlock.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from bridge.sim.carrier_stream import StreamSession
from bridge.sim.party import SimulatedParty, ring
from bridge.sim.softphone import Phone
from bridge.sim.telnyx_fields import GatherRequest, SpeakRequest, StreamRequest
from bridge.sim.telnyx_http import TelnyxHttp
from bridge.sim.telnyx_prompts import Prompts
from bridge.sim.telnyx_quirks import TelnyxQuirks
from bridge.sim.telnyx_streams import CallStreams
from bridge.sim.telnyx_webhooks import WebhookRecord, Webhooks, iso

WEBHOOK_DRAIN_S = 10.0
SIMULATOR_ERROR = 0  # not a Telnyx code: the simulator itself failed
NOT_FOUND, FAILED = "not_found", "unspecified"  # causes of a dial nobody can answer
SIP_CAUSES = {
    "normal_clearing": "200",
    "originator_cancel": "487",
    "user_busy": "486",
    "timeout": "480",
    "not_found": "404",
    "unspecified": "500",
}

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TelnyxCallSetup:
    """What the dial (or a test placing an inbound call) asked for."""

    direction: str  # "incoming" or "outgoing", as Telnyx says it
    from_: str
    to: str
    webhook_url: str | None
    connection_id: str
    timeout_s: float = 30.0
    stream: StreamRequest | None = None  # a dial's stream, started on answer
    client_state: str | None = None


def new_call_control_id() -> str:
    """Shaped like Telnyx's: "v3:" and URL-safe base64."""
    return "v3:" + base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode().rstrip("=")


class TelnyxSimCall(SimulatedParty):
    """A Telnyx call in the simulator, seen from the party at its far end.

    The test-facing surface of the Twilio `SimCall`, in Telnyx's words: `sid` is the
    call_control_id, `direction` is "incoming" or "outgoing", `api_updates` lists the commands
    carried out (action names, in order; refused ones are not), `statuses` runs "initiated",
    "answered", "hangup". Telnyx's own: `webhooks` (what was delivered, and the HTTP status),
    `client_state` (the latest a command set), `transfers`, `hangup_cause`.
    """

    def __init__(
        self,
        http: TelnyxHttp,
        setup: TelnyxCallSetup,
        phone: Phone | None,
        quirks: TelnyxQuirks,
        clock_ppm: Callable[[], float] = lambda: 0.0,
    ) -> None:
        """`clock_ppm` gives the carrier's clock skew, read as each media stream starts."""
        super().__init__(phone)
        self.sid = self.call_control_id = new_call_control_id()
        self.call_leg_id, self.call_session_id = str(uuid.uuid4()), str(uuid.uuid4())
        self.setup, self.phone, self.quirks = setup, phone, quirks
        self.direction, self.from_, self.to = setup.direction, setup.from_, setup.to
        self.client_state = setup.client_state  # the latest a command set: echoed in events
        self.transfers: list[str] = []
        self.hangup_cause: str | None = None
        self.command_ids: set[str] = set()
        self.created_at = datetime.now(UTC)
        self.answered_at: datetime | None = None
        self._http = http
        self._hooks = Webhooks(http, self, setup.webhook_url)
        self._prompts = Prompts(self)
        self._cause: str | None = None
        self._source = "unknown"
        self._finishing = self._shutdown = False
        self._streams = CallStreams(http, self, self, self.next_frame, clock_ppm)
        self._task: asyncio.Task[None] | None = None
        self._hangup_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"TelnyxSimCall({self.sid!r}, {self.direction}, {self.from_} -> {self.to})"

    @property
    def live(self) -> bool:
        """False once an end was asked for: commands then get 422 (90018)."""
        return self._cause is None and not self._finishing

    @property
    def webhooks(self) -> list[WebhookRecord]:
        """Every webhook delivered for this call, in order, with the HTTP status it got."""
        return self._hooks.sent

    # ---- the party ----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._lifecycle(), name=f"sim-telnyx-call-{self.sid}")

    async def hang_up(self) -> None:
        """The party hangs up; returns once the call has ended and its webhooks went out."""
        answered = self.answered.is_set()
        source = "caller" if self.direction == "incoming" else "callee"
        self._end("normal_clearing" if answered else "originator_cancel", source)
        await self.ended.wait()

    def _stream(self) -> StreamSession | None:
        return self._streams.session

    def _key_streamed(self, key: str) -> None:
        self.key_pressed(key)

    def key_pressed(self, digit: str) -> None:
        """Telnyx reports every key of an answered call by webhook, whoever else gets it."""
        if self.answered.is_set():
            self.emit("call.dtmf.received", {"digit": digit}, self.client_state)

    # ---- commands (from the REST API; each returns at once) -------------------------------------

    def command(self, action: str, client_state: str | None) -> None:
        """A command accepted (REST validated it): recorded; its client_state is the call's now."""
        self.api_updates.append(action)
        if client_state is not None:
            self.client_state = client_state

    def answer(self, stream: StreamRequest | None) -> None:
        self._answer()
        if stream is not None:
            self.start_stream(stream)

    def speak_text(self, request: SpeakRequest) -> None:
        self._prompts.add(request)

    def gather(self, request: GatherRequest) -> None:
        self._prompts.add(request)

    def start_stream(self, request: StreamRequest) -> None:
        self._streams.start(request)

    def stop_stream(self) -> None:
        self._streams.stop()

    def transfer(self, to: str) -> None:
        """Our leg leaves the call for `to` (the rest of a transfer is not simulated)."""
        self.transfers.append(to)
        self._end("normal_clearing", "unknown")

    def hangup(self) -> None:
        unanswered_dial = self.direction == "outgoing" and not self.answered.is_set()
        self._end("originator_cancel" if unanswered_dial else "normal_clearing", "unknown")

    async def close(self) -> None:
        """Simulator shutdown: end the call without webhooks, and wait for it."""
        self._shutdown = True
        await self._hooks.cancel()
        if self._task is not None and not self._task.done():
            self._end(self._cause or "normal_clearing", "unknown")
            await asyncio.wait([self._task])

    def _end(self, cause: str, source: str) -> None:
        if self._finishing or self._task is None or self._cause is not None:
            return
        self._cause, self._source = cause, source
        self._task.cancel()

    # ---- events -------------------------------------------------------------------------------

    def emit(self, event_type: str, extra: dict[str, Any], client_state: str | None) -> None:
        if self._finishing:
            state = "hangup"
        elif self.answered.is_set():
            state = "answered"
        else:
            state = "parked" if self.direction == "incoming" else "bridging"
        payload: dict[str, Any] = {
            "call_control_id": self.sid,
            "call_leg_id": self.call_leg_id,
            "call_session_id": self.call_session_id,
            "connection_id": self.setup.connection_id,
            "client_state": client_state,
            "from": self.from_,
            "to": self.to,
            "direction": self.direction,
            "state": state,
        }
        if self.answered_at is not None:
            payload["start_time"] = iso(self.answered_at)
        self._hooks.emit(event_type, payload | extra)

    def _status(self, status: str, event_type: str, extra: dict[str, Any] | None = None) -> None:
        self.statuses.append(status)
        self.emit(event_type, extra or {}, self.client_state)
        self.notify()

    # ---- lifecycle ----------------------------------------------------------------------------

    async def _lifecycle(self) -> None:
        try:
            if await self._connect():
                await asyncio.Event().wait()  # up until something ends it
        except asyncio.CancelledError:
            pass  # an end; `_cause` says which
        except Exception as error:  # a simulator bug: end the call, and make it visible
            self.warn(SIMULATOR_ERROR, f"simulator error: {error!r}")
            log.exception("sim_telnyx_call_failed", call_control_id=self.sid)
            self._cause = self._cause or FAILED
        finally:
            await self._finish()

    async def _connect(self) -> bool:
        """Inbound: announce the call and wait for commands. Outbound: ring the callee."""
        if self.direction == "incoming":
            self._status("initiated", "call.initiated")
            return True
        await asyncio.sleep(0.01)  # the network sets the call up
        self._status("initiated", "call.initiated")
        phone, timeout = self.phone, self.setup.timeout_s
        self._source = "callee"
        if phone is None:
            self._cause = NOT_FOUND
            return False
        outcome = await ring(phone, timeout)
        if outcome != "answer":
            causes = {"no-answer": "timeout", "timeout": "timeout", "busy": "user_busy"}
            self._cause = causes.get(outcome, FAILED)
            return False
        self._answer()
        if self.setup.stream is not None:
            self.start_stream(self.setup.stream)
        return True

    def _answer(self) -> None:
        self.answered_at = datetime.now(UTC)
        self.answered.set()
        self._status("answered", "call.answered")
        after = self.phone.hangup_after_s if self.phone else None
        if after is not None:
            source = "caller" if self.direction == "incoming" else "callee"
            loop = asyncio.get_running_loop()
            self._hangup_timer = loop.call_later(after, self._end, "normal_clearing", source)

    async def _finish(self) -> None:
        self._finishing = True
        if self._hangup_timer is not None:
            self._hangup_timer.cancel()
        await self._prompts.cancel()
        await self._streams.close()
        self.hangup_cause = cause = self._cause or "normal_clearing"
        extra = {
            "hangup_cause": cause,
            "hangup_source": self._source,
            "sip_hangup_cause": SIP_CAUSES.get(cause, "500"),
            "end_time": iso(datetime.now(UTC)),
        }
        self._status("hangup", "call.hangup", extra)
        if not self._shutdown:
            await self._hooks.drain(WEBHOOK_DRAIN_S)
        self.ended.set()
        self.fail_waiters()
