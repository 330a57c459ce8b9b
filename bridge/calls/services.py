"""What a call needs from the outside world, bundled once per app and shared by every call."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.calls.control import CallControl
from bridge.calls.session_ledger import SessionLedger
from bridge.calls.settings import BridgeSettings
from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.rest import KallglotClient
from bridge.metrics import Metrics


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
