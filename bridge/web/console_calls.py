"""Which calls an agent's console lists, and how each looks to the page.

An agent's calls are those whose agent leg reaches them: `browser:<id>` for a console agent,
the number itself for a phone agent (whose console shows captions only). Live calls and the
recent ones this instance holds, newest first; a call ringing this agent's console says so.
"""

from __future__ import annotations

from typing import Any

from bridge.calls.outbound import OutboundDials
from bridge.calls.registry import CallRegistry
from bridge.calls.routes import console_agent
from bridge.calls.summary import CallSummary
from bridge.carriers.browser import Desk, RingState
from bridge.web.call_view import iso_utc

RECENT = 20


def agent_id(agent: str | None) -> str | None:
    """The console agent a call's agent leg reaches (the number, for a phone agent)."""
    if agent is None:
        return None
    return console_agent(agent) or agent


def calls_for(
    agent: str, registry: CallRegistry, outbound: OutboundDials, desk: Desk
) -> list[dict[str, Any]]:
    live = [c.summary() for c in registry.live() if agent_id(c.plan.agent) == agent]
    live += [d.summary() for d in outbound.pending() if agent_id(d.plan.agent) == agent]
    live_ids = {s.call_id for s in live}
    recent = [
        s
        for s in reversed(registry.recent())
        if agent_id(s.agent) == agent and s.call_id not in live_ids
    ]
    listed = sorted(live, key=lambda s: -s.created_at) + recent[:RECENT]
    return [_view(s, desk, live=s.call_id in live_ids) for s in listed]


def _view(summary: CallSummary, desk: Desk, *, live: bool) -> dict[str, Any]:
    ring = desk.for_call(summary.call_id)
    ringing = live and ring is not None and ring.state is RingState.RINGING
    browser = ring is not None and ring.state is not RingState.RINGING
    return {
        "call_id": summary.call_id,
        "state": "ringing" if ringing else summary.state,
        "ringing": ringing,
        "direction": summary.direction,
        "mode": summary.mode,
        "customer_language": summary.customer_language,
        "agent_language": summary.agent_language,
        "customer": None,  # the records keep no caller numbers
        "created_at": iso_utc(summary.created_at),
        "answered_at": iso_utc(summary.answered_at) if summary.answered_at else None,
        "ended_at": iso_utc(summary.ended_at) if summary.ended_at else None,
        "end_reason": summary.end_reason,
        "live": live,
        "browser": browser,
    }
