"""Why a media stream may not become a call's leg: each refusal says what was wrong, for the
log line and the close frame, and names itself for the metrics."""

from __future__ import annotations

from typing import ClassVar


class StreamRefused(Exception):
    label: ClassVar[str] = "refused"  # `bridge_media_streams_refused_total{reason}`

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TicketUsed(StreamRefused):
    """A stream already attached with this ticket (its leg is taken, or its call is over)."""

    label = "ticket_used"


class CarrierCallMismatch(StreamRefused):
    """The stream is for another carrier call than the one its ticket or dial names."""

    label = "carrier_call_mismatch"


class CallLimitReached(StreamRefused):
    """A new call, and this instance is at BRIDGE_MAX_CALLS (or draining)."""

    label = "capacity"
