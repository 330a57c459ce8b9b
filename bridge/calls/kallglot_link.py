"""A call's Kallglot session and stream: created once, ended exactly once, never leaked.

Creating a session bills it, so a create already sent is never cancelled: `release()` waits for
one under way (bounded), then ends whatever exists, through the stream (`session.end`, then REST
end as a safety net) when there is one, else over REST. The session is created with an
idempotency key derived from the call id, so a retry from any process cannot bill twice; ending
it does the same (`end_idempotency_key`), whoever ends it (see bridge/calls/orphans.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Protocol

from structlog.typing import FilteringBoundLogger

from bridge.calls.model import EndReason
from bridge.calls.plan import CallPlan
from bridge.calls.services import CallServices
from bridge.kallglot.errors import AuthenticationError, KallglotError, PermissionDeniedError
from bridge.kallglot.events import (
    AudioOutput,
    Ended,
    Reconnected,
    StreamEvent,
    StreamFailed,
    Transcript,
)
from bridge.kallglot.models import Session
from bridge.kallglot.stream import KallglotStream

START_GRACE_S = 60.0  # how long release() waits for a create (and connect) already under way


def end_idempotency_key(call_id: str) -> str:
    """The key of every request that ends a call's session: over the stream or REST, from the
    call's own instance or from one that found it orphaned."""
    return f"{call_id}:end"


class LinkOwner(Protocol):
    """What the link tells its call."""

    def kallglot_ready(self) -> None: ...
    def kallglot_output(self, output: AudioOutput) -> None: ...
    def kallglot_transcript(self, transcript: Transcript) -> None: ...
    def kallglot_gone(self, reason: EndReason, detail: str | None, apologize: bool) -> None: ...


class KallglotLink:
    def __init__(self, plan: CallPlan, services: CallServices, log: FilteringBoundLogger) -> None:
        self.session: Session | None = None
        self.stream: KallglotStream | None = None  # set once connected and ready for audio
        self._plan = plan
        self._services = services
        self._log = log
        self._start: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._start is not None

    def start(self, owner: LinkOwner) -> None:
        self._start = asyncio.create_task(
            self._open(owner), name=f"kallglot-start-{self._plan.call_id}"
        )

    async def _open(self, owner: LinkOwner) -> None:
        services, plan, metrics = self._services, self._plan, self._services.metrics
        try:
            with metrics.kallglot_request_seconds.labels("create_session").time():
                self.session = await services.kallglot.create_session(
                    mode=plan.mode.value,
                    source_language=plan.customer_language,
                    target_language=plan.agent_language,
                    metadata={"call_id": plan.call_id, "direction": plan.direction.value},
                    idempotency_key=f"{plan.call_id}:create",
                )
            self._log = self._log.bind(session_id=self.session.id)
            stream = KallglotStream(
                services.kallglot,
                self.session,
                services.kallglot_settings,
                end_idempotency_key=end_idempotency_key(plan.call_id),
            )
            stream.stats.on_chunk_sent = metrics.inbound_latency
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
        """Ends the session and the stream, whatever state they are in; never raises."""
        if self._start is not None and not self._start.done():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(START_GRACE_S):
                    await asyncio.shield(self._start)
            self._start.cancel()
        if self.stream is not None:
            await self.stream.close()
        elif self.session is not None:
            await self._end_over_rest(self.session)
        if self._start is not None:
            await asyncio.gather(self._start, return_exceptions=True)

    async def _end_over_rest(self, session: Session) -> None:
        metrics = self._services.metrics
        try:
            with metrics.kallglot_request_seconds.labels("end_session").time():
                await self._services.kallglot.end_session(
                    session.id, idempotency_key=end_idempotency_key(self._plan.call_id)
                )
        except KallglotError as exc:
            self._log.error("kallglot_end_failed", error=str(exc))
            self._failed(exc)

    def _failed(self, exc: KallglotError) -> None:
        self._log.warning("kallglot_error", error=str(exc), status=exc.status, code=exc.code)
        label = exc.code or str(exc.status or "unreachable")
        self._services.metrics.kallglot_errors.labels(label).inc()
        if isinstance(exc, AuthenticationError | PermissionDeniedError):
            self._services.health.kallglot_rejected = f"Kallglot refused the API key: {exc.message}"
