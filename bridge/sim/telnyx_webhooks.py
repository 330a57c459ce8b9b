"""A call's Call Control webhooks: built as Telnyx builds them, signed, delivered in order.

Each event is `{"data": {"record_type": "event", "id", "event_type", "occurred_at",
"payload"}, "meta": {"attempt", "delivered_to"}}` (carriers.md §4.4). One delivery task per
call sends them one at a time, so the bridge sees `call.initiated` before `call.answered` even
though it answers the first with a command that causes the second; the event is dated when it
happens, the signature when it is sent. A failed or refused delivery is recorded (and warned
about) and changes nothing about the call: Telnyx does not hold a call for its webhooks.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bridge.sim.carrier_base import InOrderDelivery
from bridge.sim.softphone_record import Recording
from bridge.sim.telnyx_http import TelnyxHttp

WEBHOOK_FAILED = 2  # not a Telnyx code: the simulator's warning for an undelivered webhook


@dataclass(frozen=True, slots=True)
class WebhookRecord:
    """One delivered webhook: its event type, its payload, where it went and the HTTP status
    it got (None: no answer at all)."""

    event_type: str
    payload: dict[str, Any]
    url: str | None
    http_status: int | None
    body: bytes  # exactly what was signed and sent


def iso(moment: datetime) -> str:
    """Telnyx's timestamps: ISO 8601, UTC, microseconds, a `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Webhooks(InOrderDelivery[tuple[str, dict[str, Any], datetime]]):
    def __init__(self, http: TelnyxHttp, record: Recording, url: str | None) -> None:
        super().__init__("sim-telnyx-hooks")
        self._http, self._record, self._url = http, record, url
        self.sent: list[WebhookRecord] = []
        self._closed = False

    def emit(self, event_type: str, payload: dict[str, Any]) -> None:
        """Queues `event_type` with `payload`, dated now (nothing once cancelled)."""
        if self._closed:
            return
        self._put((event_type, payload, datetime.now(UTC)))

    async def cancel(self) -> None:
        """Simulator shutdown: nothing more is sent, not even what is queued."""
        self._closed = True
        await super().cancel()

    async def _deliver(self, item: tuple[str, dict[str, Any], datetime]) -> None:
        record = self._record
        event_type, payload, at = item
        body = json.dumps(
            {
                "data": {
                    "record_type": "event",
                    "id": str(uuid.uuid4()),
                    "event_type": event_type,
                    "occurred_at": iso(at),
                    "payload": payload,
                },
                "meta": {"attempt": 1, "delivered_to": self._url},
            },
            separators=(",", ":"),
        ).encode()
        if self._url is None:
            status, why = None, "no webhook URL: neither the dial nor the application has one"
        else:
            status, why = await self._http.post_signed(self._url, body)
        self.sent.append(WebhookRecord(event_type, payload, self._url, status, body))
        if status is None or not 200 <= status < 300:
            record.warn(WEBHOOK_FAILED, f"webhook {event_type} got {status or why}")
        record.notify()
