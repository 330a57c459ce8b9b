"""The simulator's session endpoints: create (validated, billed, idempotent, failing on demand),
retrieve, end (idempotent, exactly one transition) and transcript."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bridge.kallglot.models import Mode
from bridge.sim.kallglot_http import error, invalid
from bridge.sim.kallglot_state import IdempotencyEntry

if TYPE_CHECKING:
    from bridge.sim.kallglot import KallglotSimulator

IDEMPOTENCY_TTL_S = 24 * 3600
# ISO 639-1 codes the simulator knows; anything else is `invalid_language_code`, as OLD documents.
# fmt: off
LANGUAGES = frozenset((
    "af", "am", "ar", "az", "be", "bg", "bn", "bs", "ca", "cs", "cy", "da", "de", "el", "en",
    "es", "et", "eu", "fa", "fi", "fr", "ga", "gl", "gu", "he", "hi", "hr", "hu", "hy", "id",
    "is", "it", "ja", "ka", "kk", "km", "kn", "ko", "lo", "lt", "lv", "mk", "ml", "mn", "mr",
    "ms", "mt", "my", "ne", "nl", "no", "pa", "pl", "pt", "ro", "ru", "si", "sk", "sl", "sq",
    "sr", "sv", "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "uz", "vi", "zh",
))
# fmt: on
INJECTED = {
    409: ("conflict_error", "idempotency_conflict", "a request with this key is in progress"),
    429: ("rate_limit_error", "rate_limit_exceeded", "too many requests"),
    500: ("api_error", "internal_error", "simulated internal error"),
    502: ("api_error", "bad_gateway", "simulated upstream failure"),
    503: ("api_error", "service_unavailable", "simulated outage"),
}


def add_routes(app: web.Application, sim: KallglotSimulator) -> None:
    async def create(request: web.Request) -> web.Response:
        return await create_session(sim, request)

    async def get(request: web.Request) -> web.Response:
        record = sim.sessions.get(request.match_info["id"])
        if record is None:
            return _not_found(request)
        return web.json_response(sim.session_json(record))

    async def end(request: web.Request) -> web.Response:
        return await end_session(sim, request)

    async def transcript(request: web.Request) -> web.Response:
        record = sim.sessions.get(request.match_info["id"])
        if record is None:
            return _not_found(request)
        return web.json_response(sim.transcript_json(record))

    app.router.add_post("/v1/sessions", create)
    app.router.add_get("/v1/sessions/{id}", get)
    app.router.add_post("/v1/sessions/{id}/end", end)
    app.router.add_get("/v1/sessions/{id}/transcript", transcript)


def _not_found(request: web.Request) -> web.Response:
    return error(
        404, "invalid_request_error", "session_not_found",
        f"no session {request.match_info.get('id')!r}; ids come from the create response",
    )  # fmt: skip


async def _json_body(request: web.Request) -> tuple[Any, web.Response | None]:
    raw = await request.read()
    if not raw.strip():
        return {}, None
    try:
        return json.loads(raw), None
    except ValueError:
        return None, error(
            422, "invalid_request_error", "invalid_json", "the body is not valid JSON"
        )


def _validate_create(body: Any) -> web.Response | None:
    if not isinstance(body, dict):
        return invalid("invalid_request", "the body must be a JSON object")
    if "provider" in body:
        return invalid(
            "invalid_provider",
            "never send `provider`; telephony goes under `routing` (provider is read-only)",
            "provider",
        )  # fmt: skip
    mode = body.get("mode")
    if mode is None:
        return invalid("missing_required_field", "`mode` is required", "mode")
    if mode not in {m.value for m in Mode}:
        return invalid("invalid_mode", f"unknown mode {mode!r}", "mode")
    for field in ("source_language", "target_language"):
        value = body.get(field)
        if value is not None and (not isinstance(value, str) or value not in LANGUAGES):
            return invalid("invalid_language_code", f"{value!r} is not a supported language", field)
    for field in ("metadata", "routing", "recording"):
        if body.get(field) is not None and not isinstance(body[field], dict):
            return invalid("invalid_field_value", f"`{field}` must be an object", field)
    return None


def _injected(status: int, retry_after: float | None) -> web.Response:
    type_, code, message = INJECTED.get(status, ("api_error", "simulated_error", "simulated"))
    hint = retry_after if status in (409, 429, 503) else None
    return error(status, type_, code, message, retry_after=hint)


def _begin(sim: KallglotSimulator, key: str | None, fingerprint: str) -> web.Response | None:
    """A replay, conflict or mismatch answer, or None when this request should run (and then
    owns the key until `_finish`)."""
    if key is None:
        return None
    entry = sim.idempotency.get(key)
    if entry is not None and sim.now() - entry.created_at > IDEMPOTENCY_TTL_S:
        entry = None
    if entry is None:
        sim.idempotency[key] = IdempotencyEntry(fingerprint, sim.now())
        return None
    if entry.fingerprint != fingerprint:
        return invalid(
            "idempotency_mismatch",
            "this Idempotency-Key was used with a different request; use a new key",
        )  # fmt: skip
    if entry.status is None or entry.body is None:
        return error(
            409, "conflict_error", "idempotency_conflict",
            "the original request with this key is still running; retry with the same key",
            retry_after=sim.conflict_retry_after_s,
        )  # fmt: skip
    return web.json_response(
        entry.body, status=entry.status, headers={"Idempotent-Replayed": "true"}
    )


def _finish(sim: KallglotSimulator, key: str | None, status: int | None, body: Any) -> None:
    """Stores a success for replay, or forgets the key so a failed request can be retried."""
    if key is None:
        return
    if status is None:
        sim.idempotency.pop(key, None)
    else:
        entry = sim.idempotency[key]
        entry.status, entry.body = status, body


async def create_session(sim: KallglotSimulator, request: web.Request) -> web.Response:
    sim.create_requests += 1
    key = request.headers.get("Idempotency-Key")
    if key:
        sim.create_requests_by_key[key] += 1
    sim.changed.fire()
    faults = sim.faults
    failure = faults.create_failures.pop(0) if faults.create_failures else None
    if failure is not None and not failure[1]:
        return _injected(failure[0], faults.retry_after_s)
    body, problem = await _json_body(request)
    problem = problem or _validate_create(body)
    if problem is not None:
        return problem
    fingerprint = "POST /v1/sessions " + json.dumps(body, sort_keys=True)
    replay = _begin(sim, key, fingerprint)
    if replay is not None:
        return _injected(failure[0], faults.retry_after_s) if failure else replay
    # A real backend finishes a request whose client went away, so the simulator does too: a
    # client that timed out and retries meets `idempotency_conflict`, then the replay.
    stream_base = f"{'wss' if request.secure else 'ws'}://{request.host}"
    response = await asyncio.shield(sim.spawn(_commit_create(sim, body, key, stream_base)))
    if failure is not None and response.status == 201:
        return _injected(failure[0], faults.retry_after_s)  # billed, but the answer is lost
    return response


async def _commit_create(
    sim: KallglotSimulator, body: dict[str, Any], key: str | None, stream_base: str
) -> web.Response:
    stored: tuple[int, Any] | None = None
    try:
        await asyncio.sleep(sim.faults.rest_latency_s)
        if sim.credits_remaining <= 0:
            return error(
                402, "permission_error", "insufficient_api_credits",
                "no API credits left; top up in the Developer Portal",
            )  # fmt: skip
        stored = (201, sim.session_json(sim.create(body, key, stream_base)))
        return web.json_response(stored[1], status=stored[0])
    finally:
        _finish(sim, key, *(stored or (None, None)))


async def end_session(sim: KallglotSimulator, request: web.Request) -> web.Response:
    record = sim.sessions.get(request.match_info["id"])
    if record is None:
        return _not_found(request)
    body, problem = await _json_body(request)
    if problem is not None:
        return problem
    key = request.headers.get("Idempotency-Key")
    fingerprint = f"POST {request.path} " + json.dumps(body, sort_keys=True)
    replay = _begin(sim, key, fingerprint)
    if replay is not None:
        return replay
    reason = body.get("reason") if isinstance(body, dict) else None
    stored: tuple[int, Any] | None = None
    try:
        await sim.end(record, reason if isinstance(reason, str) else "api_request")
        summary = {
            "id": record.id,
            "object": "session",
            "status": record.status,
            "duration_seconds": sim.duration(record),
            "ended_at": sim.session_json(record)["ended_at"],
        }
        stored = (200, summary)
    finally:
        _finish(sim, key, *(stored or (None, None)))
    return web.json_response(summary)
