"""Every Kallglot session a call may have created gets ended, whatever fails, wherever.

A call reports its session's life here: a create about to be sent (written to the call records
before it is sent: from then on a session may exist), the session opened, the create refused,
and at the end of the call whether Kallglot confirmed the end. Whatever is left unconfirmed
(Kallglot was down when the call ended, the create's answer was lost or came too late) becomes
this instance's to settle: a task per session retries with capped, jittered backoff until
Kallglot confirms, first replaying the create with its idempotency key when the session's id was
never learnt (Kallglot answers a replay with the original response, so nothing is billed
twice), then ending it. Each attempt is logged and counted.

The obligations live in the records, owned by one instance at a time. When an instance dies (or
restarts under a new id) its heartbeat stops, and the next heartbeat of another instance adopts
what it left (bridge/store/liveness.py): the same path ends the sessions of a dead instance's
calls. An instance restarting under the same BRIDGE_INSTANCE_ID adopts its own at start-up.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import structlog

from bridge.calls.obligations import (
    Adoption,
    SessionObligation,
    SessionState,
    end_idempotency_key,
)
from bridge.kallglot.errors import (
    IdempotencyMismatchError,
    InsufficientCreditsError,
    KallglotError,
    NotFoundError,
    ValidationError,
)
from bridge.kallglot.rest import KallglotClient
from bridge.kallglot.retry import Backoff
from bridge.log import describe
from bridge.metrics import Metrics
from bridge.tasks import cancel_and_wait

log = structlog.get_logger(__name__)
WRITE_THROUGH_S = 2.0  # how long a call waits for its obligation to be stored before creating
SETTLE_BACKOFF = Backoff(base_s=1.0, max_s=15.0)  # between attempts, after Kallglot comes back
SETTLE_CONCURRENCY = 4  # requests at once: ending is rate limited (60-300/min on the plans)
# A replayed key older than Kallglot's idempotency window (24 h) would create a new session.
GIVE_UP_AFTER_S = 23 * 3600.0
CLOSE_GRACE_S = 5.0
HINT = (
    "end it by hand (POST /v1/sessions/{id}/end) or let Kallglot end it after 30 minutes "
    "without audio; it bills and holds a concurrent session until then"
)


class ObligationRecords(Protocol):
    """Where obligations are kept (bridge/store/recorder.py: the call records)."""

    def keep(self, obligation: SessionObligation) -> None:
        """Queues a write; never blocks."""

    async def keep_now(self, obligation: SessionObligation) -> None:
        """Writes at once; raises when the records cannot be reached."""


class SessionLedger:
    def __init__(
        self,
        kallglot: KallglotClient,
        records: ObligationRecords,
        instance: str,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
        backoff: Backoff = SETTLE_BACKOFF,
        rng: random.Random | None = None,
    ) -> None:
        self._kallglot = kallglot
        self._records = records
        self._instance = instance
        self._metrics = metrics
        self._clock = clock
        self._backoff = backoff
        self._rng = rng or random.Random()
        self._live: dict[str, SessionObligation] = {}  # creating or open: the call is live
        self._settling: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(SETTLE_CONCURRENCY)

    @property
    def owed(self) -> int:
        """Sessions of calls that are over whose end Kallglot has not confirmed yet."""
        return len(self._settling)

    # -- what a call reports ------------------------------------------------------------------

    async def creating(self, call_id: str, body: Mapping[str, Any]) -> None:
        """A create with `body` is about to be sent. Stored before it is (bounded): a session
        may exist from the moment it is sent, and an instance dying then must not leak it."""
        now = self._clock()
        obligation = SessionObligation(
            call_id,
            SessionState.CREATING,
            self._instance,
            now,
            now,
            create_body=json.dumps(body, separators=(",", ":")),
        )
        self._live[call_id] = obligation
        try:
            async with asyncio.timeout(WRITE_THROUGH_S):
                await self._records.keep_now(obligation)
        except Exception as exc:  # the call goes ahead: the records are not the audio path
            log.warning(
                "kallglot_obligation_write_delayed",
                call_id=call_id,
                error=describe(exc),
                hint="the call records are unreachable; the write is queued and retried",
            )
            self._records.keep(obligation)

    def opened(self, call_id: str, session_id: str) -> None:
        self._move(call_id, SessionState.OPEN, session_id=session_id)

    def not_created(self, call_id: str, error: str) -> None:
        """Kallglot definitely refused the create: there is nothing to end."""
        self._move(call_id, SessionState.NOT_CREATED, last_error=error)
        self._live.pop(call_id, None)

    def confirmed(self, call_id: str) -> None:
        """The call is over and Kallglot confirmed its session ended."""
        self._move(call_id, SessionState.ENDED)
        self._live.pop(call_id, None)

    def unconfirmed(self, call_id: str, session_id: str | None, error: str) -> None:
        """The call is over; its session (whose id may be unknown) may still be running."""
        obligation = self._move(
            call_id, SessionState.ENDING, session_id=session_id, last_error=error
        )
        self._live.pop(call_id, None)
        log.warning(
            "kallglot_session_end_unconfirmed",
            call_id=call_id,
            session_id=obligation.session_id,
            error=error,
            hint="retried until Kallglot confirms (bridge_kallglot_sessions_unconfirmed)",
        )
        self._settle_later(obligation)

    def adopt(self, adoptions: Iterable[Adoption]) -> None:
        """Obligations the records handed to this instance (their owner is gone)."""
        for adoption in adoptions:
            obligation = adoption.obligation
            if obligation.call_id in self._settling:
                continue
            log.warning(
                "kallglot_session_adopted",
                call_id=obligation.call_id,
                session_id=obligation.session_id,
                previous_owner=adoption.previous_owner,
            )
            self._settle_later(obligation)

    # -- settling -------------------------------------------------------------------------------

    async def settled(self) -> None:
        """Until every session owed so far is settled (tests)."""
        while self._settling:
            await asyncio.gather(*self._settling.values(), return_exceptions=True)

    async def close(self, grace_s: float = CLOSE_GRACE_S) -> None:
        """Shutdown: settling under way gets `grace_s`; what is left stays in the records,
        owned by this instance, for another (or this one's next start) to adopt."""
        if self._settling:
            await asyncio.wait(self._settling.values(), timeout=grace_s)
        left = {call_id: task for call_id, task in self._settling.items() if not task.done()}
        if left:
            log.warning(
                "kallglot_sessions_left_unconfirmed",
                calls=sorted(left),
                hint="another instance adopts them once this one's heartbeat is older than "
                "BRIDGE_ORPHAN_AFTER_S (or this one at its next start under the same "
                "BRIDGE_INSTANCE_ID)",
            )
        await cancel_and_wait(left.values())

    def _settle_later(self, obligation: SessionObligation) -> None:
        task = asyncio.create_task(self._settle(obligation), name=f"settle-{obligation.call_id}")
        self._settling[obligation.call_id] = task
        task.add_done_callback(lambda _: self._settling.pop(obligation.call_id, None))

    async def _settle(self, obligation: SessionObligation) -> None:
        while True:
            obligation = await self._attempt(obligation)
            if obligation.settled:
                return
            delay = self._backoff.delay(obligation.attempts, None, self._rng)
            log.warning(
                "kallglot_session_end_retry",
                call_id=obligation.call_id,
                session_id=obligation.session_id,
                attempt=obligation.attempts,
                error=obligation.last_error,
                retry_in_s=round(delay, 2),
            )
            await asyncio.sleep(delay)

    async def _attempt(self, obligation: SessionObligation) -> SessionObligation:
        """One try at ending the session (learning its id first if need be); the obligation
        as it stands afterwards, already recorded and counted."""
        attempts = obligation.attempts + 1
        bound = log.bind(call_id=obligation.call_id, attempt=attempts)
        if self._clock() - obligation.created_at > GIVE_UP_AFTER_S:
            bound.error("kallglot_session_abandoned", session_id=obligation.session_id, hint=HINT)
            return self._record(obligation, SessionState.ABANDONED, "abandoned", attempts)
        session_id = obligation.session_id
        try:
            async with self._slots:
                if session_id is None:
                    session_id = await self._replay_create(obligation)
                    obligation = self._record(
                        obligation, SessionState.ENDING, "replayed", attempts, session_id
                    )
                await self._kallglot.end_session(
                    session_id, idempotency_key=end_idempotency_key(obligation.call_id)
                )
        except NotFoundError:
            bound.info("kallglot_session_gone", session_id=session_id)
            return self._record(obligation, SessionState.ENDED, "gone", attempts)
        except (ValidationError, InsufficientCreditsError) as exc:
            if session_id is not None or isinstance(exc, IdempotencyMismatchError):
                bound.error("kallglot_session_abandoned", error=describe(exc), hint=HINT)
                return self._record(obligation, SessionState.ABANDONED, "abandoned", attempts)
            # A replay of a create Kallglot had committed would return that create's answer:
            # refused, the original never created anything.
            bound.info("kallglot_session_never_created", error=describe(exc))
            return self._record(obligation, SessionState.NOT_CREATED, "not_created", attempts)
        except KallglotError as exc:
            return self._record(
                obligation, SessionState.ENDING, "failed", attempts, session_id, describe(exc)
            )
        bound.info("kallglot_session_end_confirmed", session_id=session_id)
        return self._record(obligation, SessionState.ENDED, "ended", attempts, session_id)

    async def _replay_create(self, obligation: SessionObligation) -> str:
        if obligation.create_body is None:
            raise ValidationError("no create body recorded: the session cannot be learnt")
        session = await self._kallglot.create_session_from_body(
            json.loads(obligation.create_body), idempotency_key=obligation.create_key
        )
        log.info("kallglot_session_learnt", call_id=obligation.call_id, session_id=session.id)
        return session.id

    def _record(
        self,
        obligation: SessionObligation,
        state: SessionState,
        outcome: str,
        attempts: int,
        session_id: str | None = None,
        error: str | None = None,
    ) -> SessionObligation:
        moved = obligation.moved(
            state,
            self._clock(),
            owner=self._instance,
            attempts=attempts,
            session_id=session_id or obligation.session_id,
            last_error=error or obligation.last_error,
        )
        self._records.keep(moved)
        self._metrics.session_end_attempts.labels(outcome).inc()
        return moved

    def _move(self, call_id: str, state: SessionState, **changes: Any) -> SessionObligation:
        now = self._clock()
        current = self._live.get(call_id) or SessionObligation(
            call_id, state, self._instance, now, now
        )
        changes = {k: v for k, v in changes.items() if v is not None}
        moved = current.moved(state, now, **changes)
        if call_id in self._live:
            self._live[call_id] = moved
        self._records.keep(moved)
        return moved
