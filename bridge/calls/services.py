"""What a call needs from the outside world, bundled once per app and shared by every call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.calls.control import CallControl
from bridge.calls.session_ledger import SessionLedger
from bridge.calls.settings import BridgeSettings
from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.rest import KallglotClient
from bridge.metrics import Metrics


class Health:
    """What readiness depends on beyond the registry (bridge/web/health.py): whether Kallglot
    takes our key, and whether it answers at all.

    Calls feed it: one whose session and stream came up proves both (its link sets
    `kallglot_rejected = None`), one refused with 401/403 sets the reason. The readiness watch
    (bridge/web/kallglot_watch.py) probes while no call has proved anything lately, and is the
    only one to declare Kallglot unreachable: one call's failed request cannot tell an outage
    from a blip. Any proof that the key works clears both reasons, so an instance made unready
    (and so sent no calls) recovers on its own once Kallglot does.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._rejected: str | None = None
        self.kallglot_unreachable: str | None = None  # why the watch thinks it is down
        self.kallglot_proven_at: float | None = None  # clock() when a call last proved it up
        self._changed: asyncio.Event | None = None

    @property
    def kallglot_rejected(self) -> str | None:
        """Kallglot refused our credentials: why (None: not refused as far as we know)."""
        return self._rejected

    @kallglot_rejected.setter
    def kallglot_rejected(self, reason: str | None) -> None:
        # The call path's way of saying it (bridge/calls/kallglot_link.py): None after a
        # session and its stream came up, which proves the key and the reachability both.
        if reason is None:
            self.kallglot_accepted(proven_by_call=True)
        else:
            self.kallglot_refused(reason)

    @property
    def not_ready_reason(self) -> str | None:
        """Why new calls should go elsewhere, as far as Kallglot is concerned."""
        return self._rejected or self.kallglot_unreachable

    def kallglot_accepted(self, *, proven_by_call: bool = False) -> None:
        if proven_by_call:
            self.kallglot_proven_at = self._clock()
        self._set(None, None)

    def kallglot_refused(self, reason: str) -> None:
        self._set(reason, None)  # it answered, so it is reachable

    def kallglot_lost(self, reason: str) -> None:
        self._set(self._rejected, reason)

    def _set(self, rejected: str | None, unreachable: str | None) -> None:
        changed = (rejected, unreachable) != (self._rejected, self.kallglot_unreachable)
        self._rejected, self.kallglot_unreachable = rejected, unreachable
        if changed and self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_until(self, holds: Callable[[Health], bool]) -> None:
        """Returns once `holds(self)`; callers bound the wait with `asyncio.timeout`."""
        while not holds(self):
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()


@dataclass(frozen=True, slots=True)
class CallServices:
    settings: BridgeSettings
    kallglot: KallglotClient
    kallglot_settings: KallglotSettings
    control: CallControl
    sessions: SessionLedger  # what is owed for each call's Kallglot session
    metrics: Metrics = field(default_factory=Metrics)
    health: Health = field(default_factory=Health)
    clock: Callable[[], float] = field(default=time.time)
