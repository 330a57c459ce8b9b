"""Outbound calls between the API request and the agent answering.

Until the agent's media stream arrives there is no `Call` (it is built from that stream's
ticket, on whichever instance the stream reaches); this remembers what the API started so it
can be listed, hung up, and closed off when the agent does not answer, and which request
(by its Idempotency-Key) started which dial, so that a retried request does not dial again.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.calls.idempotency import IdempotencyKeys
from bridge.calls.model import EndReason
from bridge.calls.plan import CallPlan
from bridge.calls.summary import CallSummary, LegSummary


def new_call_id() -> str:
    """Opaque, URL-safe, unguessable (the id appears in media URLs)."""
    return "call_" + secrets.token_hex(12)


@dataclass(slots=True)
class OutboundDial:
    plan: CallPlan
    agent_call_id: str  # the carrier's id for the agent's ringing call
    created_at: float
    ended_at: float | None = None
    end_reason: EndReason | None = None
    detail: str | None = None

    def summary(self) -> CallSummary:
        return CallSummary(
            call_id=self.plan.call_id,
            state="ended" if self.ended_at else "dialing_agent",
            direction=self.plan.direction.value,
            mode=self.plan.mode.value,
            created_at=self.created_at,
            customer_language=self.plan.customer_language,
            agent_language=self.plan.agent_language,
            ended_at=self.ended_at,
            end_reason=self.end_reason.value if self.end_reason else None,
            error=self.detail,
            legs={"agent": LegSummary(self.plan.agent_carrier, self.agent_call_id)},
            agent=self.plan.agent,
        )


@dataclass(slots=True)
class OutboundDials:
    """Dials in progress; entries go once the agent's leg is up, or when the dial fails."""

    ttl_s: float
    clock: Callable[[], float] = time.time
    # Outlive the dials themselves (24 h): a client may retry long after the call ended.
    requests: IdempotencyKeys = field(default_factory=IdempotencyKeys)
    _dials: dict[str, OutboundDial] = field(default_factory=dict)

    def add(self, plan: CallPlan, agent_call_id: str) -> OutboundDial:
        dial = OutboundDial(plan, agent_call_id, self.clock())
        self._dials[plan.call_id] = dial
        return dial

    def get(self, call_id: str) -> OutboundDial | None:
        self._expire()
        return self._dials.get(call_id)

    def pop(self, call_id: str) -> OutboundDial | None:
        return self._dials.pop(call_id, None)

    def pending(self) -> list[OutboundDial]:
        self._expire()
        return list(self._dials.values())

    def _expire(self) -> None:
        # A dial whose outcome never arrived (lost callback, answered elsewhere) is forgotten.
        cutoff = self.clock() - self.ttl_s
        for call_id in [c for c, d in self._dials.items() if d.created_at < cutoff]:
            del self._dials[call_id]
