"""The records the store keeps: one per call, one per leg, one per Kallglot webhook event.

They are built from a `CallSummary` (bridge/calls/summary.py), the one description of a
call the bridge already has, so a record never disagrees with what the API and the call's own
summary log line say. Values are plain strings and numbers: the store is not the place that
decides what a valid end reason is, the call model is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bridge.calls.summary import CallSummary, LegSummary

CARRIER_FRAME_S = 0.020  # carrier media frames are 20 ms (carriers.md §1, §4)
DIALING = "dialing_agent"  # an outbound call before the agent's leg is up (no Call exists yet)
# How far along a call is. Records of one call can reach the store out of order (the dial is
# written by the instance that took the API request, the call by the one its legs hash to), so
# a row only ever moves forward: a record ranked below the stored one just fills its gaps.
STATE_RANK = {DIALING: 0, "ringing": 1, "bridging": 2, "active": 3, "ending": 4, "ended": 5}
STATES = tuple(STATE_RANK)


@dataclass(frozen=True, slots=True)
class LegRecord:
    role: str
    carrier: str
    carrier_call_id: str | None = None
    stream_id: str | None = None
    streams: int = 0
    audio_in_s: float = 0.0  # carrier audio received from the party
    audio_out_s: float = 0.0  # audio sent to the party
    frames_lost: int = 0  # outbound frames dropped (playout queue overflow)

    def to_json(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "carrier_call_id": self.carrier_call_id,
            "stream_id": self.stream_id,
            "streams": self.streams,
            "audio_in_s": self.audio_in_s,
            "audio_out_s": self.audio_out_s,
            "frames_lost": self.frames_lost,
        }


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str
    state: str
    direction: str
    mode: str
    created_at: float  # unix seconds, like everything the call reports
    route: str | None = None  # inbound: the number the customer dialled
    customer_language: str | None = None
    agent_language: str | None = None
    session_id: str | None = None  # the Kallglot session
    answered_at: float | None = None  # audio started flowing
    ended_at: float | None = None
    end_reason: str | None = None
    error: str | None = None
    instance: str | None = None  # the bridge instance the call lived on
    legs: tuple[LegRecord, ...] = ()

    @property
    def rank(self) -> int:
        return STATE_RANK.get(self.state, 0)

    def over(self, stored: CallRecord | None) -> CallRecord:
        """This (in-memory) record in place of `stored`, unless the stored one is further
        along (the call went live on another instance); gaps are filled from the other, and
        the earlier creation time is kept, as the store keeps it (pages are ordered by it)."""
        if stored is None:
            return self
        first, second = (self, stored) if self.rank >= stored.rank else (stored, self)
        merged: dict[str, Any] = {
            name: getattr(second, name)
            for name in ("route", "session_id", "answered_at", "instance")
            if getattr(first, name) is None
        }
        if not first.legs:
            merged["legs"] = second.legs
        merged["created_at"] = min(first.created_at, second.created_at)
        return replace(first, **merged)

    @property
    def sort_key(self) -> tuple[float, str]:
        """Newest first is descending order of this: created time, then id to break ties."""
        return (self.created_at, self.call_id)

    @classmethod
    def from_summary(cls, summary: CallSummary, *, instance: str) -> CallRecord:
        s = summary
        return cls(
            call_id=s.call_id,
            state=s.state,
            direction=s.direction,
            mode=s.mode,
            created_at=s.created_at,
            route=s.route,
            customer_language=s.customer_language,
            agent_language=s.agent_language,
            session_id=s.session_id,
            answered_at=s.answered_at,
            ended_at=s.ended_at,
            end_reason=s.end_reason,
            error=s.error,
            instance=instance,
            legs=tuple(_leg(role, leg) for role, leg in s.legs.items()),
        )

    def to_json(self) -> dict[str, Any]:
        """The API's shape: `Call.summary()`'s keys, plus route, instance and leg records."""
        end = self.ended_at
        return {
            "call_id": self.call_id,
            "state": self.state,
            "direction": self.direction,
            "mode": self.mode,
            "route": self.route,
            "customer_language": self.customer_language,
            "agent_language": self.agent_language,
            "session_id": self.session_id,
            "created_at": self.created_at,
            "answered_at": self.answered_at,
            "ended_at": end,
            "duration_s": round(end - self.created_at, 3) if end is not None else None,
            "end_reason": self.end_reason,
            "error": self.error,
            "instance": self.instance,
            "legs": {leg.role: leg.to_json() for leg in self.legs},
        }


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified Kallglot webhook delivery; `event_id` is what at-least-once delivery repeats."""

    event_id: str
    type: str
    received_at: float
    payload: str  # the exact body that was verified
    session_id: str | None = None
    created_at: str | None = None  # the envelope's own ISO-8601 time, as sent
    instance: str | None = None  # the instance that received it first


def _leg(role: str, leg: LegSummary) -> LegRecord:
    return LegRecord(
        role=role,
        carrier=leg.carrier or "",  # each leg's own: one call may span two carriers
        carrier_call_id=leg.carrier_call_id,
        stream_id=leg.stream_id,
        streams=leg.streams,
        audio_in_s=round(leg.frames_in * CARRIER_FRAME_S, 3),
        audio_out_s=round(leg.frames_out * CARRIER_FRAME_S, 3),
        frames_lost=leg.frames_dropped,
    )
