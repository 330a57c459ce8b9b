"""A call's event webhooks as Vonage sends them: signed JSON, one call's in order.

Status events (`started`, `ringing`, `answered`, `completed`, `busy`, ...) go to the call's
event URL (the application's for an inbound call, the dial's `event_url` for a dialled one) from
one delivery task per call, so the bridge sees them in the order they happened and a REST
handler never waits for our own delivery (the bridge may be commanding from inside one of our
webhooks). A failed or refused delivery is recorded as a warning and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bridge.sim.carrier_base import InOrderDelivery
from bridge.sim.softphone_record import Recording
from bridge.sim.vonage_http import VonageHttp

WEBHOOK_FAILED = 5  # not a Vonage code: the simulator's warning for an undelivered webhook


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One delivered webhook: where it went, what it said, and the HTTP status it got."""

    url: str | None
    payload: dict[str, Any]
    http_status: int | None


class Events(InOrderDelivery[dict[str, Any]]):
    def __init__(self, http: VonageHttp, record: Recording, url: str | None) -> None:
        super().__init__("sim-vonage-events")
        self._http, self._record, self.url = http, record, url
        self.sent: list[EventRecord] = []
        self._closed = False

    def emit(self, payload: dict[str, Any]) -> None:
        if self._closed:
            return
        self._put(payload)

    async def send_now(self, url: str, payload: dict[str, Any]) -> tuple[int | None, str]:
        """A synchronous webhook (an input result, a connect's event): its answer matters."""
        status, body = await self._http.post(url, payload)
        self._sent(url, payload, status, body)
        return status, body

    async def cancel(self) -> None:
        """Simulator shutdown: nothing more is sent, not even what is queued."""
        self._closed = True
        await super().cancel()

    async def _deliver(self, payload: dict[str, Any]) -> None:
        if self.url is None:
            self._sent(None, payload, None, "no event URL")
            return
        status, body = await self._http.post(self.url, payload)
        self._sent(self.url, payload, status, body)

    def _sent(
        self, url: str | None, payload: dict[str, Any], status: int | None, body: str
    ) -> None:
        self.sent.append(EventRecord(url, payload, status))
        if status is None or not 200 <= status < 300:
            what = payload.get("status") or "input"
            self._record.warn(
                WEBHOOK_FAILED, f"webhook {what} to {url} got {status or body}: {body[:200]}"
            )
        self._record.notify()
