"""What a call says about itself: the one description the records, the API and the call's own
`call_summary` log line are all made from, so that they never disagree."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class LegSummary:
    carrier: str | None = None  # the carrier's name (bridge/carriers/registry.py)
    carrier_call_id: str | None = None
    stream_id: str | None = None
    streams: int = 0  # media streams the leg has had (a ticket admits one)
    frames_in: int = 0  # 20 ms frames from the party
    frames_out: int = 0  # 20 ms frames sent to the party
    frames_heard: int = 0  # ... of which the carrier confirmed playing
    frames_dropped: int = 0  # playout queue overflow
    underflows: int = 0  # the carrier ran dry mid-speech
    frames_inserted: int = 0  # silent frames added in pauses (the carrier's clock ran fast)
    frames_compacted: int = 0  # silent frames dropped in pauses (slow clock, or a stall)
    tails_flushed: int = 0  # talkspurt ends sent without waiting for more audio

    def to_json(self) -> dict[str, Any]:
        return {
            "carrier": self.carrier,
            "carrier_call_id": self.carrier_call_id,
            "stream_id": self.stream_id,
            "streams": self.streams,
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_heard": self.frames_heard,
            "frames_dropped": self.frames_dropped,
            "underflows": self.underflows,
            "frames_inserted": self.frames_inserted,
            "frames_compacted": self.frames_compacted,
            "tails_flushed": self.tails_flushed,
        }


@dataclass(frozen=True, slots=True)
class CallSummary:
    call_id: str
    state: str  # a CallState value, or "dialing_agent" for an outbound dial not yet a call
    direction: str
    mode: str
    created_at: float  # unix seconds
    customer_language: str | None = None
    agent_language: str | None = None
    session_id: str | None = None
    answered_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    error: str | None = None
    legs: Mapping[str, LegSummary] = field(default_factory=dict)  # by role
    route: str | None = None  # inbound: the number dialled
    agent: str | None = None  # whom the agent leg reaches (a console's `browser:<id>`); not logged

    def duration_s(self, now: float) -> float:
        return round((self.ended_at or now) - self.created_at, 3)

    def to_json(self, now: float) -> dict[str, Any]:
        """The `call_summary` log line's shape (unix seconds, each leg's playout counters);
        `now` measures a call not yet ended. The API answers with the call's record instead
        (bridge/web/call_view.py), the one shape it has wherever the call lives."""
        return {
            "call_id": self.call_id,
            "state": self.state,
            "direction": self.direction,
            "mode": self.mode,
            "customer_language": self.customer_language,
            "agent_language": self.agent_language,
            "session_id": self.session_id,
            "created_at": self.created_at,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "duration_s": self.duration_s(now),
            "end_reason": self.end_reason,
            "error": self.error,
            "legs": {role: leg.to_json() for role, leg in self.legs.items()},
        }
