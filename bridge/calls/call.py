"""One translated phone call: up to two legs, one Kallglot session, and their shared fate.

Audio in from a leg goes to Kallglot tagged with the leg's role; translated audio comes back
and is played to the party it is for. Whatever ends the call first (a hang-up, a status
callback, the API, Kallglot), the teardown runs exactly once and always leaves nothing behind:
the other leg hung up, the Kallglot session ended (so it stops billing), every task finished.

What happens when is decided by the pure `Lifecycle` (bridge/calls/lifecycle.py); this class
feeds it events and carries out the commands it returns: tasks, sockets, carriers, Kallglot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import structlog

from bridge.audio.converter import Converter
from bridge.calls.barge_in import BargeIn, BargeInWatch
from bridge.calls.captions import Caption, CaptionFeed, StateChange
from bridge.calls.connection import LegConnection
from bridge.calls.kallglot_link import KallglotLink
from bridge.calls.leg import Leg
from bridge.calls.lifecycle import (
    Activate,
    Command,
    Dial,
    Finished,
    Lifecycle,
    ReportProgress,
    StartKallglot,
    Teardown,
    WatchAnswer,
)
from bridge.calls.model import CallState, EndReason, Mode, Role
from bridge.calls.plan import CallPlan
from bridge.calls.refusals import TicketUsed
from bridge.calls.services import CallServices
from bridge.calls.summary import CallSummary
from bridge.carriers.interface import CallStatus, CarrierError
from bridge.kallglot.events import AudioOutput, Transcript
from bridge.kallglot.models import Session
from bridge.kallglot.stream import KallglotStream
from bridge.metrics import LegSample

ROLES = {role.value: role for role in Role}
SPEAKERS = {role: role.value for role in Role}  # `role.value` is a Python-level property
ANSWER_GRACE_S = 15.0  # after the ring timeout, before a dialled leg counts as unanswered


class Call:
    def __init__(
        self,
        plan: CallPlan,
        services: CallServices,
        on_ended: Callable[[Call], None] = lambda _: None,
        on_progress: Callable[[Call], None] = lambda _: None,
    ) -> None:
        """`on_progress` runs (synchronously) when the Kallglot session opens before the call
        is live, and when it goes live; `on_ended` once, when it has ended."""
        self.plan = plan
        self.id = plan.call_id
        to_dial = tuple(role for role in plan.roles if plan.dial_target(role) is not None)
        self.lifecycle = Lifecycle(plan.roles, to_dial)
        self.legs: dict[Role, Leg] = {}
        self.captions = CaptionFeed()  # for the consoles watching (finals kept for late ones)
        self.created_at = services.clock()
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.end_reason: EndReason | None = None
        self.error: str | None = None
        self.dropped_outputs = 0
        self.session_opened = asyncio.Event()  # the Kallglot session is open (its id is known)
        self.activated = asyncio.Event()  # audio flows from here on (tests and drain await it)
        self._services = services
        self._on_ended = on_ended
        self._on_progress = on_progress
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dials: dict[Role, asyncio.Task[None]] = {}  # awaited, never cancelled: _teardown
        self._ending: asyncio.Task[None] | None = None
        self._ended = asyncio.Event()
        self._detaching: set[asyncio.Task[None]] = set()
        self._log = structlog.get_logger(__name__).bind(call_id=self.id)
        self.kallglot = KallglotLink(plan, services, self._log)

    @property
    def state(self) -> CallState:
        return self.lifecycle.state

    @property
    def session(self) -> Session | None:
        return self.kallglot.session

    @property
    def stream(self) -> KallglotStream | None:
        return self.kallglot.stream

    # -- legs ---------------------------------------------------------------------------------

    async def carrier_call_for(self, role: Role) -> str | None:
        """The carrier call this call knows for `role` (once a dial under way has returned)."""
        dial = self._dials.get(role)
        if dial is not None and not dial.done():
            await asyncio.shield(dial)
        leg = self.legs.get(role)
        return leg.carrier_call_id if leg is not None else None

    async def attach(self, role: Role, connection: LegConnection) -> None:
        """A media stream for `role` started, admitted by bridge/calls/admission.py (which
        checked its carrier call). Raises TicketUsed if the leg has a stream already."""
        if self.lifecycle.over:
            await connection.close(1000, "call has ended")
            return
        leg = self.legs.setdefault(role, Leg(role))
        if leg.connection is not None:
            raise TicketUsed(f"the {role.value} leg already has a stream")
        leg.connection = connection
        leg.carrier, leg.carrier_call_id = connection.carrier, connection.carrier_call_id
        leg.answered_at = leg.answered_at or self._services.clock()
        connection.start()
        self._log.info(
            "leg_connected",
            leg=role.value,
            stream_id=connection.stream_id,
            carrier_call_id=connection.carrier_call_id,
        )
        self._carry_out(self.lifecycle.leg_attached(role))

    def detach(self, role: Role, connection: LegConnection, reason: str) -> Awaitable[None]:
        """A leg's media socket ended: the party is gone.

        The work runs in a task of its own and the caller awaits it shielded: aiohttp may cancel
        a handler whose peer dropped the connection, and hanging up the other leg and ending the
        Kallglot session must not be cut short by that.
        """
        task = asyncio.create_task(self._detach(role, connection, reason), name=f"detach-{self.id}")
        self._detaching.add(task)
        task.add_done_callback(self._detaching.discard)
        return asyncio.shield(task)

    async def _detach(self, role: Role, connection: LegConnection, reason: str) -> None:
        leg = self.legs.get(role)
        await connection.close(1000, reason)
        if leg is None or leg.connection is not connection:
            return
        leg.gone = True
        self._log.info("leg_gone", leg=role.value, reason=reason)
        self._carry_out(self.lifecycle.hung_up(role))
        await self.ended()

    def carrier_status(
        self, role: Role, carrier_call_id: str, status: CallStatus, raw: str
    ) -> None:
        """A verified status change of one of this call's carrier calls (answered at once; any
        teardown it causes runs in the background). `raw` is the carrier's word, for records."""
        leg = self.legs.get(role)
        if leg is None or (leg.carrier_call_id not in (None, carrier_call_id)):
            self._log.info("status_for_unknown_leg", leg=role.value, status=raw)
            return
        if status is CallStatus.ANSWERED:
            leg.answered_at = leg.answered_at or self._services.clock()
        elif status.over:
            leg.gone = True
            unanswered = status.unanswered and leg.connection is None
            life = self.lifecycle
            self._carry_out(life.unanswered(role, raw) if unanswered else life.hung_up(role, raw))

    # -- audio --------------------------------------------------------------------------------

    def on_media(self, role: Role, connection: LegConnection, payload: bytes) -> None:
        """Carrier audio from `role` (hot path: 50 calls a second per leg)."""
        connection.frames_in += 1
        leg = self.legs[role]
        stream, converter = self.kallglot.stream, leg.to_kallglot
        if self.state is not CallState.ACTIVE or stream is None or converter is None:
            return
        stream.send_audio(SPEAKERS[role], converter.convert(payload))
        if leg.barge_in is not None:
            leg.barge_in.heard(payload)
        listener = leg.hears_me
        if listener is not None and listener.connection is not None:
            if self.plan.mode is Mode.ASSISTIVE and role is Role.CUSTOMER:
                listener.connection.play(connection.messages.media_format, payload)
            else:  # the original under the translation (the route's ducking)
                listener.connection.play_original(connection.messages.media_format, payload)

    def on_mark(self, role: Role, name: str) -> None:
        leg = self.legs.get(role)
        if leg is not None and leg.connection is not None:
            leg.connection.mark_played(name)

    def _route_output(self, output: AudioOutput) -> None:
        target = self._listener(output)
        leg = self.legs.get(target) if target is not None else None
        if leg is None or leg.connection is None:
            self.dropped_outputs += 1
            return
        leg.connection.play(output.format, output.data)

    def _listener(self, output: AudioOutput) -> Role | None:
        """Who hears translated audio: the one leg, else whom Kallglot names, else the other party."""
        if len(self.plan.roles) == 1:
            return Role.CUSTOMER
        if output.target in ROLES:
            return ROLES[output.target]
        if output.speaker in ROLES:
            return ROLES[output.speaker].other
        return None

    def _barged_in(self, role: Role, policy: BargeIn) -> None:
        self._log.info("barge_in", leg=role.value, policy=policy.value)
        self._services.metrics.barge_ins.labels(policy.value).inc()

    # -- Kallglot (the link's owner) ----------------------------------------------------------

    def kallglot_ready(self) -> None:
        if self.session is not None:
            self._log = self._log.bind(session_id=self.session.id)
            self.session_opened.set()
        self._carry_out(self.lifecycle.kallglot_is_ready())

    def kallglot_output(self, output: AudioOutput) -> None:
        self._route_output(output)

    def kallglot_chunk_sent(self, seconds: float, speaker: str) -> None:
        """A chunk of `speaker`'s audio went to Kallglot `seconds` after its last byte came."""
        self._services.metrics.inbound_latency(seconds)
        leg = self.legs.get(ROLES[speaker]) if speaker in ROLES else None
        if leg is not None and leg.connection is not None:
            leg.connection.delays.inbound.append(seconds)

    def kallglot_transcript(self, transcript: Transcript) -> None:
        self.captions.publish(
            Caption(
                transcript.speaker,
                transcript.final,
                transcript.text,
                transcript.language,
                transcript.translation_text,
                transcript.translation_language,
                time.time(),
            )
        )

    def kallglot_gone(self, reason: EndReason, detail: str | None, apologize: bool) -> None:
        self._carry_out(self.lifecycle.kallglot_gone(reason, detail, apologize))

    # -- carrying out the lifecycle's commands -------------------------------------------------

    def _carry_out(self, commands: list[Command]) -> None:
        for command in commands:
            if isinstance(command, StartKallglot):
                self.kallglot.start(self)
            elif isinstance(command, Dial):
                role = command.role
                self.legs[role] = Leg(role, carrier=self.plan.carrier(role))
                self._dials[role] = self._spawn(self._dial(role), f"dial-{role}")
            elif isinstance(command, WatchAnswer):
                self._spawn(self._answer_watchdog(command.role), f"watchdog-{command.role}")
            elif isinstance(command, Activate):
                self._activate()
            elif isinstance(command, ReportProgress):
                self._on_progress(self)
            elif isinstance(command, Teardown):
                self._ending = asyncio.create_task(self._teardown(command), name=f"end-{self.id}")
            elif isinstance(command, Finished):
                self._finish(command.reason)

    def _activate(self) -> None:
        stream = self.stream
        assert stream is not None
        for role in self.plan.roles:
            leg = self.legs[role]
            connection = leg.connection
            assert connection is not None
            leg.to_kallglot = Converter(connection.messages.media_format, stream.input_format)
            self._hear_the_original(role)
            if self.plan.barge_in is not BargeIn.OFF:
                leg.barge_in = BargeInWatch(
                    self.plan.barge_in, connection, partial(self._barged_in, role)
                )
        self.answered_at = self._services.clock()
        self._services.metrics.calls_started.labels(self.plan.direction.value).inc()
        self._log.info("call_active", legs=[r.value for r in self.plan.roles])
        self._on_progress(self)
        self.captions.publish(StateChange(self.state.value))
        self.activated.set()

    def _hear_the_original(self, role: Role) -> None:
        """Whom `role`'s own voice reaches besides Kallglot: the agent of an assistive call
        (instead of a translation), and, where the route ducks, the other party (under it)."""
        if len(self.plan.roles) < 2:
            return
        assistive = self.plan.mode is Mode.ASSISTIVE
        listener = self.legs[role.other]
        if assistive and role is Role.CUSTOMER:
            self.legs[role].hears_me = listener
            return
        ducking = self.plan.ducking
        if ducking is not None and listener.connection is not None:
            self.legs[role].hears_me = listener
            listener.connection.buffer.mix_original(ducking)

    # -- dialling -----------------------------------------------------------------------------

    async def _dial(self, role: Role) -> None:
        try:
            carrier_call_id = await self._services.control.dial(self.plan, role)
        except CarrierError as exc:
            self._log.warning("dial_failed", leg=role.value, error=str(exc))
            self._services.metrics.carrier_errors.labels("dial").inc()
            self._carry_out(self.lifecycle.dial_failed(role, str(exc)))
            return
        leg = self.legs[role]
        leg.carrier_call_id = carrier_call_id
        self._log.info(
            "leg_dialled", leg=role.value, carrier=leg.carrier, carrier_call_id=carrier_call_id
        )
        self._carry_out(self.lifecycle.dialled(role))

    async def _answer_watchdog(self, role: Role) -> None:
        """A lost status callback must not leave the first party waiting forever."""
        await asyncio.sleep(self._services.settings.ring_timeout_s + ANSWER_GRACE_S)
        self._carry_out(self.lifecycle.unanswered(role, "timeout"))

    # -- ending -------------------------------------------------------------------------------

    def request_end(
        self, reason: EndReason, *, apologize: Iterable[Role] = (), detail: str | None = None
    ) -> asyncio.Task[None]:
        """Starts the one teardown (later requests join it); safe from inside the call's tasks."""
        self._carry_out(self.lifecycle.end(reason, tuple(apologize), detail))
        assert self._ending is not None
        return self._ending

    async def end(
        self, reason: EndReason, *, apologize: Iterable[Role] = (), detail: str | None = None
    ) -> None:
        await asyncio.shield(self.request_end(reason, apologize=apologize, detail=detail))

    async def _teardown(self, how: Teardown) -> None:
        reason, apologize, detail = how.reason, how.apologize, how.detail
        self.end_reason, self.error = reason, detail
        self._log.info("call_ending", reason=reason.value, detail=detail)
        # A dial or session create already sent may have created something billable: let those
        # finish (their clients bound them) so that what they created is released below.
        for task in self._tasks - set(self._dials.values()):
            task.cancel()
        await asyncio.gather(*self._dials.values(), return_exceptions=True)
        self._flush_to_kallglot()
        await self._release_carrier(apologize)
        await self.kallglot.release()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._carry_out(self.lifecycle.torn_down())

    def _flush_to_kallglot(self) -> None:
        """The last words: what each leg's resampler still holds goes to Kallglot before the
        stream ends (whose close sends the partial chunks)."""
        stream = self.stream
        for role, leg in self.legs.items():
            converter, leg.to_kallglot = leg.to_kallglot, None
            if stream is not None and converter is not None and (tail := converter.flush()):
                stream.send_audio(SPEAKERS[role], tail)

    def _finish(self, reason: EndReason) -> None:
        self.ended_at = self._services.clock()
        self._log.info("call_summary", **self.summary().to_json(self.ended_at))
        self._services.metrics.call_ended(reason.value, self.leg_samples())
        self._ended.set()
        self.captions.close(reason.value)
        self._on_ended(self)

    async def _release_carrier(self, apologize: tuple[Role, ...]) -> None:
        control, plan = self._services.control, self.plan

        async def release(leg: Leg) -> None:
            if leg.carrier is None or leg.carrier_call_id is None or leg.gone:
                return
            try:
                if leg.role in apologize:
                    await control.say_and_hang_up(
                        leg.carrier, leg.carrier_call_id, plan.apology, plan.say_language
                    )
                else:
                    await control.hang_up(leg.carrier, leg.carrier_call_id)
            except CarrierError as exc:
                self._log.warning("hang_up_failed", leg=leg.role.value, error=str(exc))
                self._services.metrics.carrier_errors.labels("hang_up").inc()

        # Media first (stop and clear while the socket still works), then the carrier calls, then
        # our side of the sockets. An apologised-to leg keeps its stream until the new TwiML
        # replaces it: closing first would let the carrier hang up before the apology.
        sockets = {leg.role: leg.connection for leg in self.legs.values() if leg.connection}
        await asyncio.gather(
            *(socket.stop(clear=True) for role, socket in sockets.items() if role not in apologize)
        )
        await asyncio.gather(*(release(leg) for leg in self.legs.values()))
        await asyncio.gather(*(socket.close(1000, "call ended") for socket in sockets.values()))

    # -- housekeeping -------------------------------------------------------------------------

    def leg_samples(self) -> list[LegSample]:
        """The legs' counters now (metrics sum these over live calls at scrape time)."""
        return [sample for leg in self.legs.values() if (sample := leg.sample()) is not None]

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=f"{name}-{self.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def ended(self) -> None:
        """Returns once the call has ended (for whatever reason, whenever that is)."""
        await self._ended.wait()

    def summary(self) -> CallSummary:
        return CallSummary(
            call_id=self.id,
            state=self.state.value,
            direction=self.plan.direction.value,
            mode=self.plan.mode.value,
            created_at=self.created_at,
            customer_language=self.plan.customer_language,
            agent_language=self.plan.agent_language,
            session_id=self.session.id if self.session else None,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            end_reason=self.end_reason.value if self.end_reason else None,
            error=self.error,
            legs={role.value: leg.summary() for role, leg in self.legs.items()},
            route=self.plan.route.number if self.plan.route else None,
            agent=self.plan.agent,
        )
