"""Which Vonage call a dialled leg's media stream belongs to.

Vonage puts no call id on the media socket (carriers.md §5.3): only the `headers` of the NCCO
that connected it. An inbound call's NCCO is written after its answer webhook named the call,
so its headers carry the uuid; a dialled call's NCCO goes out inside the dial request, before
the uuid exists. So the control remembers each dial's uuid under the stream's ticket (unique
per leg, and in the headers), and the stream's `websocket:connected` looks it up. The media
path is hashed on the call id, so the stream reaches the instance that dialled.

Pure bookkeeping: callers pass the clock; entries expire after `MAX_AGE_S` (a dial rings for
at most 120 s and a ticket waits 120 s more), so the table cannot grow for ever.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_AGE_S = 600.0
TICKET = "ticket"


class DialledCalls:
    __slots__ = ("_by_ticket",)

    def __init__(self) -> None:
        self._by_ticket: dict[str, tuple[str, float]] = {}  # ticket -> (call uuid, since)

    def __len__(self) -> int:
        return len(self._by_ticket)

    def remember(self, parameters: Mapping[str, str], call_uuid: str, now: float) -> None:
        self._prune(now)
        ticket = parameters.get(TICKET)
        if ticket:
            self._by_ticket[ticket] = (call_uuid, now)

    def take(self, headers: Mapping[str, str]) -> str | None:
        """The call uuid dialled with these headers' ticket (once: a ticket is one stream's)."""
        entry = self._by_ticket.pop(headers.get(TICKET) or "", None)
        return entry[0] if entry is not None else None

    def _prune(self, now: float) -> None:
        stale = [t for t, (_, since) in self._by_ticket.items() if now - since > MAX_AGE_S]
        for ticket in stale:
            del self._by_ticket[ticket]
