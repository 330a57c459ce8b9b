"""A call's status callbacks: the requested events, signed, delivered in order.

Twilio sends them independently and they may arrive out of order (carriers.md §2.2); the
simulator sends one at a time, in order, so that test output reads as a story. A failed or
refused callback is recorded as Twilio's warning 15003 and changes nothing about the call.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime

from bridge.sim.carrier_base import InOrderDelivery
from bridge.sim.carrier_http import SignedHttp
from bridge.sim.softphone import StatusCallbackRecord
from bridge.sim.softphone_record import Recording

FINAL_STATUSES = ("completed", "busy", "no-answer", "failed", "canceled")
_EVENT_OF_STATUS = {"initiated": "initiated", "ringing": "ringing", "in-progress": "answered"}
CALLBACK_WARNING = 15003


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment)


class StatusCallbacks(InOrderDelivery[tuple[str, dict[str, str]]]):
    def __init__(
        self,
        http: SignedHttp,
        record: Recording,
        url: str | None,
        method: str,
        events: tuple[str, ...],
    ) -> None:
        super().__init__()
        self._http, self._record = http, record
        self._url, self._method, self._events = url, method, events
        self._sequence = 0

    def status_changed(
        self, status: str, params: dict[str, str], at: datetime, duration_s: int | None
    ) -> None:
        """Queues the callback for `status` if its event was requested."""
        event = "completed" if status in FINAL_STATUSES else _EVENT_OF_STATUS.get(status)
        if self._url is None or event not in self._events:
            return
        params = params | {
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(self._sequence),
            "Timestamp": rfc2822(at),
        }
        if event == "completed":
            params["CallDuration"] = str(duration_s or 0)
        self._sequence += 1
        self._put((self._url, params))

    async def _deliver(self, item: tuple[str, dict[str, str]]) -> None:
        (url, params), record = item, self._record
        status, body = await self._http.request(url, params, self._method)
        record.status_callbacks.append(StatusCallbackRecord(params, status))
        if status is None or status >= 400:
            record.warn(CALLBACK_WARNING, f"status callback got {status or body}")
        record.notify()
