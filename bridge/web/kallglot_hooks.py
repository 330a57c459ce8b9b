"""`POST /kallglot/webhooks`: Kallglot's signed event deliveries (kallglot-api.md §5).

The signature is checked over the exact bytes received before anything in them is believed.
Delivery is at-least-once, so each event is recorded under its id and a redelivery is answered
200 and otherwise ignored; the shared store makes that hold whichever instance a delivery
reaches. A `session.ended` for a call live on this instance ends that call; the teardown runs
in the background, because Kallglot wants its answer within 30 s and retries on silence.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, NoReturn

import structlog
from aiohttp import web

from bridge.calls.model import EndReason
from bridge.kallglot.webhooks import SIGNATURE_HEADER, verify_signature
from bridge.store.base import StoreUnavailable
from bridge.store.records import WebhookEvent
from bridge.web.api import fail
from bridge.web.keys import CONFIG, REGISTRY, STORE

log = structlog.get_logger(__name__)
MAX_EVENT_BYTES = 1024 * 1024  # a transcript.ready carries every turn of the call
MAX_ID_LENGTH = 200
STORE_TIMEOUT_S = 5.0


async def receive(request: web.Request) -> web.Response:
    app = request.app
    settings = app[CONFIG].kallglot
    if not settings.webhook_secret:
        fail(
            503,
            "webhooks_disabled",
            "Kallglot webhooks are not accepted: set KALLGLOT_WEBHOOK_SECRET to this endpoint's "
            "signing secret (Kallglot portal: Webhooks)",
        )
    raw = await _raw_body(request)
    header = request.headers.get(SIGNATURE_HEADER)
    if not verify_signature(raw, header, settings.webhook_secret, settings.webhook_tolerance_s):
        log.warning("kallglot_webhook_rejected", reason="bad signature", bytes=len(raw))
        fail(
            401,
            "bad_signature",
            f"{SIGNATURE_HEADER} does not verify: check that KALLGLOT_WEBHOOK_SECRET is this "
            "endpoint's signing secret, that the body reaches us unchanged, and that this "
            f"host's clock is within {settings.webhook_tolerance_s:.0f} s of Kallglot's",
        )
    event = _event(raw, app[STORE].instance)
    try:
        async with asyncio.timeout(STORE_TIMEOUT_S):
            new = await app[STORE].store.add_event(event)
    except (StoreUnavailable, TimeoutError) as exc:
        # Ending a call is idempotent, so act now; the record waits for Kallglot's redelivery.
        _act(request, event)
        log.error("kallglot_webhook_not_recorded", event_id=event.event_id, error=repr(exc))
        fail(503, "store_unavailable", "the call records database is unreachable; redeliver")
    if not new:
        log.info("kallglot_webhook_duplicate", event_id=event.event_id, type=event.type)
        return web.json_response({"status": "duplicate", "id": event.event_id})
    log.info(
        "kallglot_webhook_recorded",
        event_id=event.event_id,
        type=event.type,
        session_id=event.session_id,
    )
    _act(request, event)
    return web.json_response({"status": "recorded", "id": event.event_id})


def _act(request: web.Request, event: WebhookEvent) -> None:
    if event.type != "session.ended" or event.session_id is None:
        return
    for call in request.app[REGISTRY].live():
        if call.session is not None and call.session.id == event.session_id:
            log.info("call_ended_by_kallglot_webhook", call_id=call.id, event_id=event.event_id)
            call.request_end(EndReason.KALLGLOT_ENDED, detail="session.ended webhook")


async def _raw_body(request: web.Request) -> bytes:
    """The body, byte for byte; larger than the app's limit for webhooks (transcripts)."""
    if (request.content_length or 0) > MAX_EVENT_BYTES:
        _too_large(request.content_length or 0)
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_EVENT_BYTES:
            _too_large(len(body))
    return bytes(body)


def _too_large(size: int) -> NoReturn:
    message = f"webhook bodies are limited to {MAX_EVENT_BYTES} bytes"
    raise web.HTTPRequestEntityTooLarge(
        max_size=MAX_EVENT_BYTES,
        actual_size=size,
        text=json.dumps({"error": {"code": "too_large", "message": message}}),
        content_type="application/json",
    )


def _event(raw: bytes, instance: str) -> WebhookEvent:
    try:
        text = raw.decode("utf-8")
        envelope = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        fail(400, "invalid_json", "the body is not UTF-8 JSON (or is nested beyond reason)")
    if not isinstance(envelope, dict):
        fail(400, "invalid_event", "the body must be a JSON object (the event envelope)")
    event_id, event_type = envelope.get("id"), envelope.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_ID_LENGTH:
        fail(400, "invalid_event", "the event has no 'id' (a string): it cannot be de-duplicated")
    if not isinstance(event_type, str) or not event_type:
        fail(400, "invalid_event", "the event has no 'type'")
    created = envelope.get("created_at")
    event = WebhookEvent(
        event_id=event_id,
        type=event_type,
        received_at=time.time(),
        payload=text,
        session_id=_session_id(envelope.get("data")),
        created_at=created if isinstance(created, str) else None,
        instance=instance,
    )
    # JSON escapes can spell lone surrogates ("\ud800"): text no database can store.
    for value in (event.event_id, event.type, event.session_id, event.created_at):
        if value is not None and not _is_text(value):
            fail(400, "invalid_event", "the event's id, type or times are not valid Unicode")
    return event


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _session_id(data: Any) -> str | None:
    """session.* events carry the session itself; the others name it in `session_id`."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("session_id"), str):
        return str(data["session_id"])
    if data.get("object") == "session" and isinstance(data.get("id"), str):
        return str(data["id"])
    return None
