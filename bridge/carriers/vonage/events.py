"""Vonage's webhooks as the bridge's words: answers, input results, call events.

Vonage sends three kinds (carriers.md §5): the answer webhook (GET with the call in the query,
or POST JSON), the input result of our keypad menu (POST JSON, `dtmf.digits`) and call events
(POST JSON with a `status`). Numbers come without the "+"; the bridge's are E.164. Pure: the
carrier (carrier.py) has already checked the signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.carriers.interface import (
    CallStatus,
    Ignored,
    IncomingCall,
    StatusChanged,
    Webhook,
)
from bridge.carriers.vonage.ncco import e164

STATUSES = {
    "started": CallStatus.INITIATED,
    "ringing": CallStatus.RINGING,
    "answered": CallStatus.ANSWERED,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "timeout": CallStatus.NO_ANSWER,
    "unanswered": CallStatus.NO_ANSWER,
    "rejected": CallStatus.FAILED,
    "failed": CallStatus.FAILED,
    "cancelled": CallStatus.CANCELED,
}
MAX_FIELD_CHARS = 256


def text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) and len(value) <= MAX_FIELD_CHARS else None


def incoming(payload: Mapping[str, Any], context: Mapping[str, Any]) -> IncomingCall:
    """An answer webhook: a new call to one of our numbers."""
    caller = text(payload, "from")
    return IncomingCall(
        to=e164(text(payload, "to") or ""),
        carrier_call_id=text(payload, "uuid") or None,
        caller=e164(caller) if caller else None,
        context=context,
    )


def menu_result(payload: Mapping[str, Any], context: Mapping[str, Any]) -> IncomingCall:
    """The `input` action's result: the key pressed ("" when the caller pressed none)."""
    dtmf = payload.get("dtmf")
    digits = dtmf.get("digits") if isinstance(dtmf, dict) else dtmf  # older: top-level string
    call = incoming(payload, context)
    return IncomingCall(
        call.to,
        call.carrier_call_id,
        call.caller,
        digits=digits if isinstance(digits, str) and len(digits) <= 32 else "",
        context=dict(context) | {"answered": True},
    )


def call_event(payload: Mapping[str, Any], call_id: str | None, role: str | None) -> Webhook:
    """A call event: a StatusChanged for a status the bridge acts on, else Ignored. Among the
    ignored: `disconnected`, the media socket closing (we closed it, or it dropped), after which
    the call goes on with its NCCO, and so ends where nothing follows; the socket's end has
    already told the bridge."""
    raw = text(payload, "status") or ""
    status = STATUSES.get(raw)
    if status is None:
        return Ignored(f"vonage event {raw[:40]!r}")
    uuid = text(payload, "uuid")
    if not uuid:
        return Ignored(f"vonage event {raw!r} without a call uuid")
    return StatusChanged(uuid, status, raw, call_id, role)
