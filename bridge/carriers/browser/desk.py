"""Ringing agents' consoles: the browser leg's "carrier network".

A dial of `browser:<agent>` becomes a `Ring` here. The agent's open consoles see it (the desk
WebSocket, bridge/web/console_sockets.py), one of them answers or declines it, or it times out,
exactly as a dialled phone would; every change reaches the call as the `StatusChanged` a
carrier's webhook would have delivered (`notify`, wired to bridge/web/carrier_hooks.py). An
answer hands out the leg's ticket once: a second tab gets 409, and the ticket opens a media
stream only within `OPEN_WITHIN_S` of the answer and only once.

Rings live in the process that dialled them: the desk socket of a console connected to another
instance of a cluster does not see them (README, "Agent console").
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog

from bridge.carriers.interface import CallStatus, StatusChanged, StreamTarget

log = structlog.get_logger(__name__)
OPEN_WITHIN_S = 60.0  # an answer's ticket opens the media stream within this, or not at all
KEEP_OVER_S = 60.0  # a ring that is over is forgotten after this (its id may still be asked)

Notify = Callable[[StatusChanged], Coroutine[Any, Any, None]]


class RingState(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"  # the ticket was handed out; the stream has not opened yet
    OPEN = "open"
    OVER = "over"


class AnswerRefused(Exception):
    """Why this console may not answer; `status` is the HTTP status the console gets."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Ring:
    id: str  # the leg's "carrier call id"
    call_id: str
    role: str
    agent: str
    target: StreamTarget
    state: RingState = RingState.RINGING
    answered_at: float | None = None
    ended_at: float | None = None
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class Desk:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._rings: dict[str, Ring] = {}
        self._clock = clock
        self._notify: Notify | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._change = asyncio.Event()  # set (and replaced) on every change

    def connect(self, notify: Notify) -> None:
        """Where status changes go (the app wires this when it starts)."""
        self._notify = notify

    def ring(
        self, agent: str, call_id: str, role: str, target: StreamTarget, timeout_s: float
    ) -> str:
        ring = Ring(f"BR{secrets.token_hex(16)}", call_id, role, agent, target)
        self._rings[ring.id] = ring
        ring.timer = asyncio.get_running_loop().call_later(
            timeout_s, self._time_out, ring.id, RingState.RINGING, CallStatus.NO_ANSWER
        )
        log.info("console_ringing", call_id=call_id, agent=agent, leg_id=ring.id)
        self._changed()
        return ring.id

    def ringing(self, agent: str) -> list[Ring]:
        return [
            r for r in self._rings.values() if r.agent == agent and r.state is RingState.RINGING
        ]

    def for_call(self, call_id: str) -> Ring | None:
        """The newest ring of `call_id` (a call rings one browser agent at a time)."""
        rings = [r for r in self._rings.values() if r.call_id == call_id]
        return rings[-1] if rings else None

    def answer(self, call_id: str, agent: str) -> Ring:
        """`agent` answers `call_id`'s ring; raises AnswerRefused (404, 409, 410)."""
        ring = self._ring_of(call_id, agent)
        if ring.state is not RingState.RINGING:
            if ring.state is RingState.OVER:
                raise AnswerRefused(410, "the call stopped ringing")
            raise AnswerRefused(409, "answered in another tab")
        ring.state, ring.answered_at = RingState.ANSWERED, self._clock()
        self._cancel_timer(ring)
        ring.timer = asyncio.get_running_loop().call_later(
            OPEN_WITHIN_S, self._time_out, ring.id, RingState.ANSWERED, CallStatus.FAILED
        )
        log.info("console_answered", call_id=call_id, agent=agent, leg_id=ring.id)
        self._status(ring, CallStatus.ANSWERED, "answered")
        return ring

    def decline(self, call_id: str, agent: str) -> None:
        ring = self._ring_of(call_id, agent)
        if ring.state is not RingState.RINGING:
            raise AnswerRefused(409, "the call is no longer ringing")
        log.info("console_declined", call_id=call_id, agent=agent, leg_id=ring.id)
        self._over(ring, CallStatus.BUSY, "declined")

    def leg_refusal(self, leg_id: str, call_id: str) -> str | None:
        """Why a media stream presenting `leg_id` for `call_id` may not open (None: it may,
        and from now it is the open leg). Consulted by the media protocol at `start`."""
        ring = self._rings.get(leg_id)
        if ring is None or ring.call_id != call_id:
            return "unknown or foreign ticket: answer the call in the console to get one"
        if ring.state is RingState.RINGING:
            return "the call was not answered"
        if ring.state is not RingState.ANSWERED:
            return "this ticket was used already (is the call open in another tab?)"
        assert ring.answered_at is not None
        if self._clock() - ring.answered_at > OPEN_WITHIN_S:
            return f"ticket expired: the media stream must open within {OPEN_WITHIN_S:.0f} s"
        ring.state = RingState.OPEN
        self._cancel_timer(ring)
        self._changed()
        return None

    def hang_up(self, leg_id: str) -> None:
        """The call hangs this leg up: a ring stops; an open leg's socket is closed by the call."""
        ring = self._rings.get(leg_id)
        if ring is not None and ring.state is not RingState.OVER:
            status = CallStatus.CANCELED if ring.state is RingState.RINGING else None
            self._over(ring, status, "hung up by the bridge")

    async def close(self) -> None:
        for ring in list(self._rings.values()):
            self._cancel_timer(ring)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- inside ----

    def _ring_of(self, call_id: str, agent: str) -> Ring:
        ring = self.for_call(call_id)
        if ring is None or ring.agent != agent:
            raise AnswerRefused(404, "no call of yours is ringing with that id")
        return ring

    def _time_out(self, leg_id: str, expected: RingState, status: CallStatus) -> None:
        ring = self._rings.get(leg_id)
        if ring is not None and ring.state is expected:
            log.info("console_ring_timed_out", call_id=ring.call_id, state=expected.value)
            self._over(ring, status, "no answer" if expected is RingState.RINGING else "not opened")

    def _over(self, ring: Ring, status: CallStatus | None, raw: str) -> None:
        ring.state, ring.ended_at = RingState.OVER, self._clock()
        self._cancel_timer(ring)
        ring.timer = asyncio.get_running_loop().call_later(
            KEEP_OVER_S, self._rings.pop, ring.id, None
        )
        if status is not None:
            self._status(ring, status, raw)
        else:
            self._changed()

    def _status(self, ring: Ring, status: CallStatus, raw: str) -> None:
        self._changed()
        if self._notify is None:
            return
        change = StatusChanged(ring.id, status, raw, call_id=ring.call_id, role=ring.role)
        task = asyncio.create_task(self._notify(change), name=f"console-status-{ring.call_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel_timer(self, ring: Ring) -> None:
        if ring.timer is not None:
            ring.timer.cancel()
            ring.timer = None

    def _changed(self) -> None:
        self._change.set()
        self._change = asyncio.Event()

    async def next_change(self, timeout_s: float) -> None:
        """Returns at the next change of any ring, or after `timeout_s`."""
        change = self._change
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await change.wait()
