"""A call's Call Control webhooks: built as Telnyx builds them, signed, delivered in order.

Each event is `{"data": {"record_type": "event", "id", "event_type", "occurred_at",
"payload"}, "meta": {"attempt", "delivered_to"}}` (carriers.md §4.4). One delivery task per
call sends them one at a time, so the bridge sees `call.initiated` before `call.answered` even
though it answers the first with a command that causes the second; the event is dated when it
happens, the signature when it is sent. A failed or refused delivery is recorded (and warned
about) and changes nothing about the call: Telnyx does not hold a call for its webhooks.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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


class Webhooks:
    def __init__(self, http: TelnyxHttp, record: Recording, url: str | None) -> None:
        self._http, self._record, self._url = http, record, url
        self.sent: list[WebhookRecord] = []
        self._queue: asyncio.Queue[tuple[str, dict[str, Any], datetime] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    def emit(self, event_type: str, payload: dict[str, Any]) -> None:
        """Queues `event_type` with `payload`, dated now (nothing once cancelled)."""
        if self._closed:
            return
        self._queue.put_nowait((event_type, payload, datetime.now(UTC)))
        if self._task is None:
            self._task = asyncio.create_task(self._deliver(), name=f"sim-telnyx-hooks-{id(self)}")

    async def drain(self, timeout_s: float) -> None:
        """Waits (up to `timeout_s`) until everything queued so far was delivered."""
        if self._task is not None and not self._task.done():
            self._queue.put_nowait(None)
            await asyncio.wait([self._task], timeout=timeout_s)

    async def cancel(self) -> None:
        """Simulator shutdown: nothing more is sent, not even what is queued."""
        self._closed = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])

    async def _deliver(self) -> None:
        record = self._record
        while (item := await self._queue.get()) is not None:
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
