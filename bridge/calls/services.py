"""What a call needs from the outside world, bundled once per app and shared by every call."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bridge.calls.model import Role
from bridge.calls.plan import CallPlan
from bridge.calls.session_ledger import SessionLedger
from bridge.calls.settings import BridgeSettings
from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.rest import KallglotClient
from bridge.metrics import Metrics


class CallControl(Protocol):
    """Carrier-neutral call control; `bridge.calls.twilio_control` implements it for Twilio."""

    async def dial(self, plan: CallPlan, role: Role) -> str:
        """Starts ringing `role`'s party; returns the carrier's id for that call."""

    async def hang_up(self, carrier_call_id: str) -> None:
        """Ends the carrier call; already-ended is success. Raises CarrierError otherwise."""

    async def say_and_hang_up(self, carrier_call_id: str, text: str, language: str | None) -> None:
        """Replaces whatever the party hears with `text`, then hangs up."""

    async def turn_away(self, carrier_call_id: str) -> None:
        """Tells the party the bridge is busy (or forwards them to the fallback number)."""


@dataclass(slots=True)
class Health:
    """What readiness depends on beyond the registry (see bridge.web.health)."""

    kallglot_rejected: str | None = None  # Kallglot refused our credentials: why


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
