"""Records as the tests build them: a call at a given time, in a given state, with two legs."""

from __future__ import annotations

from bridge.store.records import CallRecord, LegRecord

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z: older than any call a test makes


def a_call(
    n: int,
    *,
    state: str = "ended",
    at: float | None = None,
    end_reason: str | None = "customer_hangup",
    **fields: object,
) -> CallRecord:
    created = T0 + n if at is None else at
    ended = state == "ended"
    values: dict[str, object] = {
        "call_id": f"call_{n:04d}",
        "state": state,
        "direction": "inbound",
        "mode": "bidirectional_translation",
        "created_at": created,
        "route": "+15550100001",
        "customer_language": "de",
        "agent_language": "en",
        "session_id": f"sess_{n:04d}",
        "answered_at": created + 1 if state in ("active", "ended") else None,
        "ended_at": created + 30 if ended else None,
        "end_reason": end_reason if ended else None,
        "instance": "i-1",
        "legs": (
            LegRecord("customer", "twilio", f"CA{n:04d}c", f"MZ{n:04d}c", 1, 29.0, 28.5, 0),
            LegRecord("agent", "twilio", f"CA{n:04d}a", f"MZ{n:04d}a", 1, 28.0, 28.9, 2),
        ),
    }
    values.update(fields)
    return CallRecord(**values)
