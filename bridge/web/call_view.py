"""The one shape a call has in the API, whichever endpoint answers and wherever the call lives.

`POST`, `GET` and `DELETE /v1/calls...` all answer with a call record (bridge/store/records.py):
a call held here is turned into one (`CallRecords.of_summary`), a call elsewhere is read from
the store, so a client sees the same fields for a ringing dial, a live call and a finished one.
Times are ISO-8601 in UTC (`2026-01-31T09:30:00.250Z`), the form `GET /v1/calls?since=` takes;
the records and the `call_summary` log line keep unix seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bridge.store.records import CallRecord

TIMES = ("created_at", "answered_at", "ended_at")


def iso_utc(moment: float) -> str:
    """Milliseconds are all a call's times mean; 'Z' rather than '+00:00', as most APIs write."""
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


def call_json(record: CallRecord) -> dict[str, Any]:
    body = record.to_json()
    for name in TIMES:
        if body[name] is not None:
            body[name] = iso_utc(body[name])
    return body
