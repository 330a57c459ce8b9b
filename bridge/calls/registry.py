"""The calls live in this process, and the recently ended ones for the API.

Call state lives in one process (both legs of a call reach the same instance: see design.md);
this is where a media stream finds its call, where limits are enforced and where shutdown
finds everything it must end.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog

from bridge.calls.call import Call
from bridge.calls.model import EndReason
from bridge.calls.plan import CallPlan
from bridge.calls.services import CallServices
from bridge.calls.tickets import Ticket

RECENT_CALLS = 1000


def _ignore(_: object) -> None:
    pass


class CallLimitReached(RuntimeError):
    pass


class CallRegistry:
    def __init__(
        self,
        services: CallServices,
        on_ended: Callable[[Call], None] = _ignore,
        *,
        on_created: Callable[[Call], None] = _ignore,
        on_progress: Callable[[Call], None] = _ignore,
        on_remembered: Callable[[dict[str, Any]], None] = _ignore,
    ) -> None:
        """The `on_*` hooks see each call's lifecycle (call records); they must not block.

        `on_progress`: see `Call`. It hears of a call's Kallglot session as soon as it is open,
        because an agent may ring for half a minute before the call goes live, and a session
        the records do not name cannot be ended by the instance that finds this one dead
        (bridge/calls/orphans.py).
        """
        self._services = services
        self._calls: dict[str, Call] = {}
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_CALLS)
        self._on_ended = on_ended
        self._on_created = on_created
        self._on_progress = on_progress
        self._on_remembered = on_remembered
        self._idle = asyncio.Event()
        self._idle.set()
        self._created = asyncio.Event()  # pulsed for each new call
        self.draining = False
        self._log = structlog.get_logger(__name__)

    def __len__(self) -> int:
        return len(self._calls)

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    def live(self) -> list[Call]:
        return list(self._calls.values())

    def recent(self) -> list[dict[str, Any]]:
        return list(self._recent)

    def accepting(self) -> bool:
        """Whether a new call (not a leg of a live one) may start here."""
        return not self.draining and len(self._calls) < self._services.settings.max_calls

    def get_or_create(self, ticket: Ticket) -> Call:
        call = self._calls.get(ticket.call_id)
        if call is not None:
            return call
        if len(self._calls) >= self._services.settings.max_calls:
            raise CallLimitReached(f"{len(self._calls)} calls live, BRIDGE_MAX_CALLS reached")
        call = Call(
            CallPlan.from_ticket(ticket, self._services.settings.routes),
            self._services,
            self._ended,
            self._on_progress,
        )
        self._calls[call.id] = call
        self._idle.clear()
        self._created.set()
        self._on_created(call)
        return call

    async def wait_for(self, predicate: Callable[[Call], bool] = lambda _: True) -> Call:
        """The first live call matching `predicate`, waiting for it to be created if need be."""
        while True:
            for call in self._calls.values():
                if predicate(call):
                    return call
            self._created.clear()
            await self._created.wait()

    def remember(self, summary: dict[str, Any]) -> None:
        """A call that ended without ever going live here (an unanswered outbound dial)."""
        self._recent.append(summary)
        self._on_remembered(summary)

    def _ended(self, call: Call) -> None:
        if self._calls.pop(call.id, None) is not None:
            self._recent.append(call.summary())
        if not self._calls:
            self._idle.set()
        self._on_ended(call)

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def end_all(self, reason: EndReason) -> None:
        calls = self.live()
        if calls:
            self._log.info("ending_all_calls", calls=len(calls), reason=reason.value)
        await asyncio.gather(*(call.end(reason) for call in calls))
