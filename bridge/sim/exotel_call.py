"""One simulated Exotel call: ring, answer, the flow (Voicebot, then Hangup), status callbacks.

An Exotel call runs the operator's flow, not commands: the Voicebot applet GETs its dynamic URL
(Basic auth from the URL's userinfo) with the call's details and `CustomField`, connects the
media stream to the `wss://` URL in the JSON answer, and when the bridge closes that socket
the flow moves on to the Hangup applet, which ends the call. An answer that is not 200 with a
usable URL is the applet's failure: the failure branch runs (a Greeting, when the simulator
has one, then Hangup), and the reason is recorded as a warning. Nothing over REST can change a
live call: Exotel has no hang-up or update API (carriers.md §6.2), so `api_updates` stays empty.

A dialled call (`Calls/connect`) rings its party first and reports by status callback
(`answered`, when asked for, and `terminal` with the outcome); a call placed by a test is
answered at once, like a call into an ExoPhone.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from bridge.carriers.exotel.protocol import ExotelCarrierSide
from bridge.sim.carrier_stream import StreamSession
from bridge.sim.exotel_http import ExotelHttp, StatusCallbacks
from bridge.sim.exotel_stream import ExotelMediaSide, StreamRequest, connect, read_stream_url
from bridge.sim.party import SimulatedParty, ring
from bridge.sim.softphone import Phone, Said

CALLBACK_DRAIN_S = 10.0
SIMULATOR_ERROR = 0  # not an Exotel code: the simulator itself failed
VOICEBOT_FAILED = 12  # not an Exotel code: the applet's URL gave no usable stream

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ExotelCallSetup:
    """What the dial (or a test placing an inbound call) asked for."""

    direction: str  # "inbound" or "outbound-api", as Exotel says it
    from_: str  # the caller; for a dial, the ExoPhone (CallerId)
    to: str  # our ExoPhone; for a dial, the party rung (Exotel's `From`)
    account_sid: str
    voicebot_url: str | None  # the flow's Voicebot applet URL, userinfo included
    failure_greeting: str | None = None  # what the flow's failure branch says, if anything
    custom_field: str = ""
    status_callback: str | None = None
    status_events: tuple[str, ...] = ()
    timeout_s: float = 30.0


def new_call_sid() -> str:
    """Shaped like Exotel's: 32 hex digits."""
    return uuid.uuid4().hex


class ExotelSimCall(SimulatedParty):
    """An Exotel call in the simulator, seen from the party at its far end.

    The test-facing surface of the Twilio `SimCall`: `statuses` runs "ringing" (dials),
    "in-progress", then the outcome ("completed", "busy", "no-answer", "failed");
    `voicebot_requests` lists the applet's URL fetches (the parameters, and the HTTP status).
    """

    def __init__(
        self,
        http: ExotelHttp,
        setup: ExotelCallSetup,
        phone: Phone | None,
        clock_ppm: Callable[[], float] = lambda: 0.0,
    ) -> None:
        super().__init__(phone)
        self.sid = new_call_sid()
        self.setup, self.phone = setup, phone
        self.direction, self.from_, self.to = setup.direction, setup.from_, setup.to
        self.created_at = datetime.now(UTC)
        self.voicebot_requests: list[tuple[dict[str, str], int | None]] = []
        self._http, self._clock_ppm = http, clock_ppm
        self._callbacks = StatusCallbacks(http, self, setup.status_callback, setup.status_events)
        self._outcome: str | None = None
        self._finishing = self._shutdown = False
        self._session: StreamSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._hangup_timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"ExotelSimCall({self.sid!r}, {self.direction}, {self.from_} -> {self.to})"

    # ---- the party ----------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._lifecycle(), name=f"sim-exotel-call-{self.sid}")

    async def hang_up(self) -> None:
        """The party hangs up; returns once the call has ended and its callbacks went out."""
        self._end("completed" if self.answered.is_set() else "canceled")
        await self.ended.wait()

    def _stream(self) -> StreamSession | None:
        return self._session

    def _key_unstreamed(self, key: str) -> None:
        """Lost: keys reach the bridge only as `dtmf` on the stream (Voicebot delivers them);
        the flow has no prompt that would wait for one."""

    async def close(self) -> None:
        """Simulator shutdown: end the call without callbacks, and wait for it."""
        self._shutdown = True
        await self._callbacks.cancel()
        if self._task is not None and not self._task.done():
            self._end(self._outcome or "completed")
            await asyncio.wait([self._task])

    def _end(self, outcome: str) -> None:
        if self._finishing or self._task is None or self._outcome is not None:
            return
        self._outcome = outcome
        self._task.cancel()

    # ---- lifecycle ----------------------------------------------------------------------------

    async def _lifecycle(self) -> None:
        try:
            if await self._ring():
                self._answer()
                await self._flow()
                self._outcome = self._outcome or "completed"  # the Hangup applet
        except asyncio.CancelledError:
            pass  # an end; `_outcome` says which
        except Exception as error:  # a simulator bug: end the call, and make it visible
            self.warn(SIMULATOR_ERROR, f"simulator error: {error!r}")
            log.exception("sim_exotel_call_failed", call_sid=self.sid)
            self._outcome = self._outcome or "failed"
        finally:
            await self._finish()

    async def _ring(self) -> bool:
        """Inbound: answered at once. A dial: rings the party; False when nobody answers."""
        if self.direction == "inbound":
            return True
        await asyncio.sleep(0.01)  # the network sets the call up
        self._status("ringing")
        phone, timeout = self.phone, self.setup.timeout_s
        if phone is None:
            self._outcome = "failed"
            return False
        outcome = await ring(phone, timeout)
        if outcome != "answer":
            self._outcome = "no-answer" if outcome == "timeout" else outcome
            return False
        return True

    def _answer(self) -> None:
        self.answered.set()
        self._status("in-progress")
        self._callbacks.send("answered", self._params("in-progress"))
        after = self.phone.hangup_after_s if self.phone else None
        if after is not None:
            self._hangup_timer = asyncio.get_running_loop().call_later(
                after, self._end, "completed"
            )

    async def _flow(self) -> None:
        """The Voicebot applet, until its stream ends; its failure branch if it cannot start."""
        request = await self._voicebot()
        ws = await connect(self._http, self, request) if request is not None else None
        if request is None or ws is None:
            if self.setup.failure_greeting:
                self.said.append(Said(self.setup.failure_greeting))
                self.notify()
            return
        side = ExotelCarrierSide(
            "stream_" + uuid.uuid4().hex,
            self.sid,
            self.setup.account_sid,
            sample_rate=request.sample_rate,
            from_number=self.from_,
            to_number=self.to,
        )
        media = ExotelMediaSide(side, self.next_frame)
        self._session = StreamSession(self, ws, media, media.line, None, self._clock_ppm())
        try:
            await self._session.run(request.custom_parameters)
        finally:
            self._session = None

    async def _voicebot(self) -> StreamRequest | None:
        """GETs the applet's URL; the stream it names, or None (and a warning) if unusable."""
        url = self.setup.voicebot_url
        if url is None:
            self.warn(VOICEBOT_FAILED, "the flow's Voicebot applet has no URL")
            return None
        params = {
            "CallSid": self.sid,
            "CallFrom": self.from_ if self.direction == "inbound" else self.to,
            "CallTo": self.to if self.direction == "inbound" else self.from_,
            "Direction": self.direction,
            "CallType": "call-attempt",
            "Created": self.created_at.strftime("%a, %d %b %Y %H:%M:%S"),
            "CustomField": self.setup.custom_field,
        }
        status, body = await self._http.request("GET", url, params)
        self.voicebot_requests.append((params, status))
        if status != 200:
            self.warn(VOICEBOT_FAILED, f"GET of the Voicebot URL got {status or body}")
            return None
        try:
            stream_url = json.loads(body)["url"]
            if not isinstance(stream_url, str):
                raise TypeError("url is not a string")
        except (ValueError, KeyError, TypeError) as error:
            self.warn(VOICEBOT_FAILED, f"the Voicebot URL answered no stream URL ({error!r:.80})")
            return None
        request = read_stream_url(stream_url)
        if isinstance(request, str):
            self.warn(VOICEBOT_FAILED, request)
            return None
        return request

    def _status(self, status: str) -> None:
        self.statuses.append(status)
        self.notify()

    def _params(self, status: str) -> dict[str, str]:
        return {
            "CallSid": self.sid,
            "Status": status,
            "To": self.to,
            "From": self.from_,
            "Direction": self.direction,
            "DateUpdated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "CustomField": self.setup.custom_field,
        }

    async def _finish(self) -> None:
        self._finishing = True
        if self._hangup_timer is not None:
            self._hangup_timer.cancel()
        outcome = self._outcome or "completed"
        self._status(outcome)
        self._callbacks.send("terminal", self._params(outcome))
        if not self._shutdown:
            await self._callbacks.drain(CALLBACK_DRAIN_S)
        self.ended.set()
        self.fail_waiters()
