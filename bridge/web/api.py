"""The operator API: `POST /v1/calls` (agent-assisted outbound calls), list, inspect, hang up.

Bearer-authenticated with BRIDGE_API_TOKEN. Errors are JSON `{"error": {"code", "message"}}`,
with a message that says what to change (api_errors.py). Every endpoint answers with a call in
one shape (call_view.py); `POST` honours an `Idempotency-Key` (idempotent.py); openapi.py
describes it all.

Listing and inspecting read the call records (every instance's calls) with this instance's
live calls laid over them. `GET /v1/calls` takes `since`/`until` (ISO-8601, on the creation
time), `status`, `end_reason`, `limit` (1..200, default 50) and a cursor, `before` or `after`;
it answers newest first with `before` (the cursor of the next older page, null at the end) and
`after` (the cursor to ask for calls newer than this page).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from typing import Any, NoReturn

import structlog
from aiohttp import web

from bridge.calls.model import Direction, EndReason, Mode, Role
from bridge.calls.outbound import new_call_id
from bridge.calls.plan import CallPlan
from bridge.calls.routes import BROWSER, E164, LANGUAGE, console_agent, is_agent
from bridge.calls.summary import CallSummary
from bridge.carriers.interface import CarrierError
from bridge.carriers.registry import phone_carriers
from bridge.store.base import StoreUnavailable
from bridge.store.query import QueryError, query_from_params
from bridge.store.records import DIALING, CallRecord
from bridge.web.api_errors import error_response
from bridge.web.api_errors import fail as fail  # the webhooks answer the same way
from bridge.web.call_view import call_json
from bridge.web.idempotent import idempotency_key, once
from bridge.web.keys import CARRIERS, CONFIG, OUTBOUND, REGISTRY, SERVICES, STORE

log = structlog.get_logger(__name__)
CREATE_FIELDS = {"to", "agent", "source_language", "target_language", "mode", "carrier"}
TOO_LARGE = "the body is over the server's 64 KiB limit; a call request is a few hundred bytes"


def authorize(request: web.Request) -> None:
    token = request.app[CONFIG].bridge.api_token
    if token is None:
        fail(503, "api_disabled", "the calls API is off: set BRIDGE_API_TOKEN to enable it")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        fail(401, "unauthorized", "send 'Authorization: Bearer <BRIDGE_API_TOKEN>'")


async def create_call(request: web.Request) -> web.Response:
    authorize(request)
    body = await _json_object(request)
    key = idempotency_key(request)
    plan = _plan(body, phone_carriers(request.app[CARRIERS]))
    return await once(request, key, body, lambda: _dial(request, plan))


async def _dial(request: web.Request, plan: CallPlan) -> web.Response:
    """Dials the agent: 201 with the call, or 502 when the carrier refused (both are answers
    to keep for the request's retries); a refusal before dialling is raised."""
    settings, registry = request.app[CONFIG].bridge, request.app[REGISTRY]
    # The call's slot is held while the agent rings and their stream comes.
    if not registry.reserve(plan.call_id, settings.ring_timeout_s + settings.start_timeout_s):
        fail(
            503,
            "not_accepting",
            "this instance is draining or at BRIDGE_MAX_CALLS; retry on another",
        )
    try:
        agent_call_id = await request.app[SERVICES].control.dial(plan, Role.AGENT)
    except CarrierError as exc:
        registry.release(plan.call_id)
        log.warning("outbound_dial_failed", call_id=plan.call_id, error=str(exc))
        # Kept under an Idempotency-Key too: the carrier may have placed the call before
        # the error (a timeout), and a retry must not ring the agent a second time.
        return error_response(502, "carrier_error", f"the carrier refused to dial the agent: {exc}")
    dial = request.app[OUTBOUND].add(plan, agent_call_id)
    request.app[STORE].dial_started(dial)
    log.info("outbound_call_started", call_id=plan.call_id, agent_call_id=agent_call_id)
    return web.json_response(_held(request.app, dial.summary()), status=201)


async def list_calls(request: web.Request) -> web.Response:
    authorize(request)
    try:
        query = query_from_params(request.query)
    except QueryError as exc:
        fail(422, f"invalid_{exc.field}", str(exc))
    try:
        page = await request.app[STORE].page(query, _in_memory(request.app))
    except StoreUnavailable as exc:
        _records_down(exc)
    return web.json_response(
        {
            "calls": [call_json(record) for record in page.calls],
            "before": page.before.encode() if page.before else None,
            "after": page.after.encode() if page.after else None,
        }
    )


async def get_call(request: web.Request) -> web.Response:
    authorize(request)
    record = await _find(request)
    body = call_json(record)
    if record.session_id is not None:
        try:
            events = await request.app[STORE].store.events(record.session_id)
        except StoreUnavailable as exc:
            _records_down(exc)
        body["kallglot_events"] = [
            {"id": e.event_id, "type": e.type, "created_at": e.created_at} for e in events
        ]
    return web.json_response(body)


async def hang_up_call(request: web.Request) -> web.Response:
    authorize(request)
    app, call_id = request.app, request.match_info["call_id"]
    call = app[REGISTRY].get(call_id)
    if call is not None:
        await call.end(EndReason.API_HANGUP)
        return web.json_response(_held(app, call.summary()))
    dial = app[OUTBOUND].pop(call_id)
    if dial is None:
        record = await _find(request)  # 404 if unknown
        if record.state == DIALING:
            return web.json_response(call_json(await _cancel_dialled_elsewhere(app, record)))
        if record.state != "ended":
            fail(409, "not_here", f"call {call_id} is not live on this instance ({record.state})")
        fail(409, "already_ended", f"call {call_id} has already ended")
    try:
        await app[SERVICES].control.hang_up(dial.plan.agent_carrier, dial.agent_call_id)
    except CarrierError as exc:
        log.warning("hang_up_failed", call_id=call_id, error=str(exc))
    dial.ended_at, dial.end_reason = app[OUTBOUND].clock(), EndReason.API_HANGUP
    app[REGISTRY].release(call_id)
    app[REGISTRY].remember(dial.summary())
    return web.json_response(_held(app, dial.summary()))


def _held(app: web.Application, summary: CallSummary) -> dict[str, Any]:
    """A call this instance holds, in the shape every endpoint answers with."""
    return call_json(app[STORE].of_summary(summary))


async def _cancel_dialled_elsewhere(app: web.Application, record: CallRecord) -> CallRecord:
    """An outbound dial another instance placed (POST /v1/calls goes to any instance, the
    call's id hashes this DELETE here): end the record, then hang up the ringing agent."""
    try:
        ended = await app[STORE].end_pending_dial(record.call_id, EndReason.API_HANGUP.value)
    except StoreUnavailable as exc:
        _records_down(exc)
    if ended is None:  # answered meanwhile, or a dial of ours that we no longer hold
        fail(
            409,
            "not_dialling",
            f"call {record.call_id} is no longer dialling here; GET it for its state and "
            "DELETE again if it is live",
        )
    agent = next((leg for leg in record.legs if leg.role == Role.AGENT.value), None)
    if agent is not None and agent.carrier_call_id is not None:
        try:
            await app[SERVICES].control.hang_up(agent.carrier, agent.carrier_call_id)
        except CarrierError as exc:
            log.warning("hang_up_failed", call_id=record.call_id, error=str(exc))
    log.info("outbound_call_cancelled", call_id=record.call_id, dialled_by=record.instance)
    return ended


async def _find(request: web.Request) -> CallRecord:
    """The call's record: this instance's in-memory state over the stored row."""
    call_id = request.match_info["call_id"]
    mine = _held_here(request.app, call_id)
    try:
        stored = await request.app[STORE].get(call_id)
    except StoreUnavailable as exc:
        if mine is None:
            _records_down(exc)
        stored = None
    if mine is not None:
        return mine.over(stored)
    if stored is None:
        fail(404, "not_found", f"no call {call_id}")
    return stored


def _held_here(app: web.Application, call_id: str) -> CallRecord | None:
    records = app[STORE]
    call = app[REGISTRY].get(call_id)
    if call is not None:
        return records.of_call(call)
    dial = app[OUTBOUND].get(call_id)
    if dial is not None:
        return records.of_summary(dial.summary())
    for summary in app[REGISTRY].recent():
        if summary.call_id == call_id:
            return records.of_summary(summary)
    return None


def _in_memory(app: web.Application) -> list[CallRecord]:
    """This instance's calls as records: live, dialling, and recently ended."""
    records = app[STORE]
    return (
        [records.of_call(call) for call in app[REGISTRY].live()]
        + [records.of_summary(dial.summary()) for dial in app[OUTBOUND].pending()]
        + [records.of_summary(summary) for summary in app[REGISTRY].recent()]
    )


def _records_down(exc: StoreUnavailable) -> NoReturn:
    log.error("call_records_unreadable", error=str(exc))
    fail(503, "records_unavailable", "the call records database is unreachable; try again")


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object. Decoded as UTF-8 whatever charset the request claims (JSON is
    UTF-8, RFC 8259; a bogus charset must not become a 500), and nesting too deep to parse is
    a bad request like any other malformed body."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:  # aiohttp answers in plain text; the API in JSON
        exc.content_type = "application/json"
        exc.text = json.dumps({"error": {"code": "too_large", "message": TOO_LARGE}})
        raise
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        fail(400, "invalid_json", "the body must be a UTF-8 JSON object")
    if not isinstance(body, dict):
        fail(400, "invalid_json", "the body must be a JSON object")
    return body


def _plan(body: dict[str, Any], carriers: Sequence[str]) -> CallPlan:
    """The call `body` asks for; `carriers` are the configured ones, the first the default."""
    unknown = set(body) - CREATE_FIELDS
    if unknown:
        fail(
            422,
            "unknown_field",
            f"unknown fields {sorted(unknown)}; allowed: {sorted(CREATE_FIELDS)}",
        )
    to, agent = body.get("to"), body.get("agent")
    if not isinstance(to, str) or not E164.match(to):
        fail(422, "invalid_to", "'to' must be the customer's E.164 number, like +15550100003")
    if not isinstance(agent, str) or not is_agent(agent):
        fail(
            422,
            "invalid_agent",
            "'agent' must be an E.164 number, a SIP URI (sip:agent@pbx) or a console agent "
            "(browser:<agent id>)",
        )
    languages = []
    for field in ("source_language", "target_language"):
        value = body.get(field)
        if value is not None and (not isinstance(value, str) or not LANGUAGE.match(value)):
            fail(
                422, f"invalid_{field}", f"'{field}' must be a language code like 'de', or omitted"
            )
        languages.append(value)
    try:
        mode = Mode(body.get("mode", Mode.BIDIRECTIONAL.value))
    except ValueError:
        fail(422, "invalid_mode", f"'mode' must be one of {[m.value for m in Mode]}")
    carrier = body.get("carrier", carriers[0])
    if carrier not in carriers:
        fail(422, "invalid_carrier", f"'carrier' must be one of {list(carriers)}, or omitted")
    return CallPlan(
        call_id=new_call_id(),
        direction=Direction.OUTBOUND,
        mode=mode,
        customer_language=languages[0],
        agent_language=languages[1],
        agent=agent,
        customer=to,
        customer_carrier=carrier,
        agent_carrier=BROWSER if console_agent(agent) else carrier,
    )
