"""The calls live in this process, and the recently ended ones for the API.

Call state lives in one process (both legs of a call reach the same instance: see design.md);
this is where a media stream finds its call, where limits are enforced and where shutdown
finds everything it must end.

Capacity is promised when a caller is answered, not when their stream arrives: the voice
webhook (and the API's dial) reserves a slot for the call it answers, which its first stream
takes, so a caller is either told "busy" at once or gets the call. A reservation no stream
claims in time lapses. Each ticket's leg is remembered here once a stream used it, until the
ticket expires, so that no stream can use it again (bridge/calls/admission.py).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import structlog

from bridge.calls.call import Call
from bridge.calls.model import EndReason, Role
from bridge.calls.plan import CallPlan
from bridge.calls.refusals import CallLimitReached, TicketUsed
from bridge.calls.services import CallServices
from bridge.calls.summary import CallSummary
from bridge.calls.tickets import Ticket

RECENT_CALLS = 1000
# How long a call that ended here refuses its tickets: longer than any ticket lives (at most
# BRIDGE_TICKET_TTL_S, 3600, after its dial's ring time).
OVER_KEPT_S = 7200.0
PRUNE_EVERY_S = 10.0  # how often the uses of expired tickets are forgotten


def _ignore(_: object) -> None:
    pass


class CallRegistry:
    def __init__(
        self,
        services: CallServices,
        on_ended: Callable[[Call], None] = _ignore,
        *,
        on_created: Callable[[Call], None] = _ignore,
        on_progress: Callable[[Call], None] = _ignore,
        on_remembered: Callable[[CallSummary], None] = _ignore,
    ) -> None:
        """The `on_*` hooks see each call's lifecycle (call records); they must not block.

        `on_progress`: see `Call`. It hears of a call's Kallglot session as soon as it is open,
        because an agent may ring for half a minute before the call goes live, and a session
        the records do not name cannot be ended by the instance that finds this one dead
        (bridge/calls/session_ledger.py).
        """
        self._services = services
        self._calls: dict[str, Call] = {}
        self._recent: deque[CallSummary] = deque(maxlen=RECENT_CALLS)
        self._over: dict[str, float] = {}  # calls that ended here -> until when to remember
        self._on_ended = on_ended
        self._on_created = on_created
        self._on_progress = on_progress
        self._on_remembered = on_remembered
        self._idle = asyncio.Event()
        self._idle.set()
        self._created = asyncio.Event()  # pulsed for each new call
        self._reserved: dict[str, float] = {}  # call id -> until (clock time)
        self._used: dict[tuple[str, Role], float] = {}  # a ticket's leg -> when the ticket expires
        self._pruned_at = 0.0
        self.draining = False
        self._log = structlog.get_logger(__name__)

    def __len__(self) -> int:
        return len(self._calls)

    @property
    def reserved(self) -> int:
        self._prune()
        return len(self._reserved)

    def get(self, call_id: str) -> Call | None:
        return self._calls.get(call_id)

    def live(self) -> list[Call]:
        return list(self._calls.values())

    def recent(self) -> list[CallSummary]:
        return list(self._recent)

    def accepting(self) -> bool:
        """Whether a new call (not a leg of a live one) may start here."""
        return not self.draining and self._taken() < self._services.settings.max_calls

    def reserve(self, call_id: str, for_s: float) -> bool:
        """Holds a slot for `call_id` for `for_s` seconds (until its first stream takes it);
        False when no new call may start here."""
        if not self.accepting():
            return False
        self._reserved[call_id] = self._services.clock() + for_s
        return True

    def release(self, call_id: str) -> None:
        """The reserved call will not come (its dial failed or was cancelled)."""
        self._reserved.pop(call_id, None)

    def use_ticket(self, ticket: Ticket) -> None:
        """Records that a stream uses `ticket`; raises TicketUsed if one already did here."""
        self._prune()
        leg = (ticket.call_id, ticket.role)
        if leg in self._used:
            call = self._calls.get(ticket.call_id)
            state = "attached to the live call" if call else "used by a call that has ended"
            raise TicketUsed(f"the {ticket.role.value} leg's ticket was {state}")
        if ticket.call_id in self._over:
            raise TicketUsed(
                f"the call ended before its {ticket.role.value} leg's stream came (a party "
                "who answered after the others hung up)"
            )
        self._used[leg] = float(ticket.expires_at)

    def get_or_create(self, ticket: Ticket, carrier: str) -> Call:
        """The ticket's call, created from it if need be (`carrier`: the stream's)."""
        call = self._calls.get(ticket.call_id)
        if call is not None:
            return call
        reserved = self._reserved.pop(ticket.call_id, None) is not None
        if not reserved and (self.draining or self._taken() >= self._services.settings.max_calls):
            raise CallLimitReached(
                f"{len(self._calls)} calls live and {len(self._reserved)} reserved: "
                + ("draining" if self.draining else "BRIDGE_MAX_CALLS reached")
            )
        call = Call(
            CallPlan.from_ticket(ticket, self._services.settings.routes, carrier),
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

    def remember(self, summary: CallSummary) -> None:
        """A call that ended without ever going live here (an unanswered outbound dial)."""
        self._recent.append(summary)
        self._on_remembered(summary)

    def _ended(self, call: Call) -> None:
        if self._calls.pop(call.id, None) is not None:
            self._recent.append(call.summary())
        self._over[call.id] = self._services.clock() + OVER_KEPT_S
        if not self._calls:
            self._idle.set()
        self._on_ended(call)

    def _taken(self) -> int:
        self._prune()
        return len(self._calls) + len(self._reserved)

    def _prune(self) -> None:
        now = self._services.clock()
        for call_id in [c for c, until in self._reserved.items() if until < now]:
            del self._reserved[call_id]  # at most BRIDGE_MAX_CALLS of them: cheap every time
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = now
            for leg in [leg for leg, expires in self._used.items() if expires < now]:
                del self._used[leg]
            for call_id in [c for c, until in self._over.items() if until < now]:
                del self._over[call_id]

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def end_all(self, reason: EndReason, *, apologize: bool = False) -> None:
        """Ends every live call; with `apologize`, each party still on the line first hears
        their call's apology (the bridge is going away under a call that was not over)."""
        calls = self.live()
        if calls:
            self._log.info("ending_all_calls", calls=len(calls), reason=reason.value)
        await asyncio.gather(
            *(call.end(reason, apologize=call.plan.roles if apologize else ()) for call in calls)
        )
