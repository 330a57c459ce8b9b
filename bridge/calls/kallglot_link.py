"""A call's Kallglot session and stream: created once, ended exactly once, never leaked.

Creating a session bills it, so a create already sent is never cancelled: `release()` waits for
one under way (bounded), then ends whatever exists, through the stream (`session.end`, then REST
end as a safety net) when there is one, else over REST. The session is created with an
idempotency key derived from the call id, so a retry from any process cannot bill twice; ending
it does the same (`end_idempotency_key`), whoever ends it.

Every step is reported to the session ledger (bridge/calls/session_ledger.py), which owns what
the call could not finish: a create whose outcome was lost, an end Kallglot did not confirm.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Protocol

from structlog.typing import FilteringBoundLogger

from bridge.calls.model import EndReason
from bridge.calls.obligations import create_idempotency_key, end_idempotency_key
from bridge.calls.plan import CallPlan
from bridge.calls.services import CallServices
from bridge.kallglot.errors import (
    AuthenticationError,
    KallglotError,
    NotFoundError,
    PermissionDeniedError,
)
from bridge.kallglot.events import (
    AudioOutput,
    Ended,
    Reconnected,
    StreamEvent,
    StreamFailed,
    Transcript,
)
from bridge.kallglot.models import Session
from bridge.kallglot.rest import session_body
from bridge.kallglot.stream import KallglotStream
from bridge.log import describe

START_GRACE_S = 60.0  # how long release() waits for a create (and connect) already under way


class LinkOwner(Protocol):
    """What the link tells its call."""

    def kallglot_ready(self) -> None: ...
    def kallglot_output(self, output: AudioOutput) -> None: ...
    def kallglot_transcript(self, transcript: Transcript) -> None: ...
    def kallglot_chunk_sent(self, seconds: float, speaker: str) -> None: ...
    def kallglot_gone(self, reason: EndReason, detail: str | None, apologize: bool) -> None: ...


class KallglotLink:
    def __init__(self, plan: CallPlan, services: CallServices, log: FilteringBoundLogger) -> None:
        self.session: Session | None = None
        self.stream: KallglotStream | None = None  # set once connected and ready for audio
        self._plan = plan
        self._services = services
        self._log = log
        self._start: asyncio.Task[None] | None = None
        # Where the create stands: "unsent" until the request may have left, "sent" until its
        # answer (or failure) is in, then "answered". release() reads it when it cuts a start
        # short: a session may exist only once the create was sent.
        self._create = "unsent"

    @property
    def started(self) -> bool:
        return self._start is not None

    def start(self, owner: LinkOwner) -> None:
        self._start = asyncio.create_task(
            self._open(owner), name=f"kallglot-start-{self._plan.call_id}"
        )

    async def _open(self, owner: LinkOwner) -> None:
        services, plan, metrics = self._services, self._plan, self._services.metrics
        ledger = services.sessions
        body = session_body(
            plan.mode.value,
            plan.customer_language,
            plan.agent_language,
            metadata={"call_id": plan.call_id, "direction": plan.direction.value},
        )
        await ledger.creating(plan.call_id, body)
        try:
            self._create = "sent"
            try:
                with metrics.kallglot_request_seconds.labels("create_session").time():
                    self.session = await services.kallglot.create_session_from_body(
                        body, idempotency_key=create_idempotency_key(plan.call_id)
                    )
            except KallglotError as exc:
                self._create = "answered"
                if exc.maybe_applied:  # a session may exist: the ledger learns its id, ends it
                    ledger.unconfirmed(plan.call_id, None, describe(exc))
                else:
                    ledger.not_created(plan.call_id, describe(exc))
                raise
            self._create = "answered"
            ledger.opened(plan.call_id, self.session.id)
            self._log = self._log.bind(session_id=self.session.id)
            stream = KallglotStream(
                services.kallglot,
                self.session,
                services.kallglot_settings,
                end_idempotency_key=end_idempotency_key(plan.call_id),
            )
            stream.stats.on_chunk_sent = owner.kallglot_chunk_sent
            await stream.connect()
        except KallglotError as exc:
            self._failed(exc)
            owner.kallglot_gone(EndReason.KALLGLOT_FAILED, str(exc), apologize=True)
            return
        services.health.kallglot_rejected = None
        self.stream = stream
        self._log.info("kallglot_ready", protocol=str(stream.input_format))
        owner.kallglot_ready()
        stream.on_event(functools.partial(self._on_event, owner))

    def _on_event(self, owner: LinkOwner, event: StreamEvent) -> None:
        """Runs in the stream's reader (see KallglotStream.on_event): nothing here may block."""
        if isinstance(event, AudioOutput):
            owner.kallglot_output(event)
        elif isinstance(event, Transcript):
            owner.kallglot_transcript(event)
        elif isinstance(event, Reconnected):
            self._services.metrics.kallglot_reconnects.inc()
        elif isinstance(event, Ended):
            owner.kallglot_gone(EndReason.KALLGLOT_ENDED, event.reason, apologize=False)
        elif isinstance(event, StreamFailed):
            owner.kallglot_gone(EndReason.KALLGLOT_FAILED, event.reason, apologize=True)

    async def release(self) -> None:
        """Ends the session and the stream, whatever state they are in; never raises. What
        Kallglot does not confirm is left to the session ledger."""
        if self._start is not None and not self._start.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(START_GRACE_S):
                    await asyncio.shield(self._start)
            self._start.cancel()
            await asyncio.gather(self._start, return_exceptions=True)
        ledger, call_id = self._services.sessions, self._plan.call_id
        if self._start is not None and self._create == "unsent":
            ledger.not_created(call_id, "the call ended before the create was sent")
            return
        if self._create == "sent":  # cut short while waiting for the create's answer
            ledger.unconfirmed(call_id, None, "the call ended while the create was unanswered")
            return
        if self.session is None:
            return  # never created (the ledger knows why)
        if self.stream is not None:
            await self.stream.close()
            confirmed, error = self.stream.end_confirmed, self.stream.end_error
        else:
            confirmed, error = await self._end_over_rest(self.session)
        if confirmed:
            ledger.confirmed(call_id)
        else:
            ledger.unconfirmed(call_id, self.session.id, error or "end not confirmed")

    async def _end_over_rest(self, session: Session) -> tuple[bool, str | None]:
        metrics = self._services.metrics
        try:
            with metrics.kallglot_request_seconds.labels("end_session").time():
                await self._services.kallglot.end_session(
                    session.id, idempotency_key=end_idempotency_key(self._plan.call_id)
                )
        except NotFoundError:
            return True, None
        except KallglotError as exc:
            self._log.warning("kallglot_end_failed", error=describe(exc))
            self._failed(exc)
            return False, describe(exc)
        return True, None

    def _failed(self, exc: KallglotError) -> None:
        self._log.warning("kallglot_error", error=describe(exc), status=exc.status, code=exc.code)
        label = exc.code or str(exc.status or "unreachable")
        self._services.metrics.kallglot_errors.labels(label).inc()
        if isinstance(exc, AuthenticationError | PermissionDeniedError):
            self._services.health.kallglot_rejected = f"Kallglot refused the API key: {exc.message}"
