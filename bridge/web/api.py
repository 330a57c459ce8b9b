"""The operator API: `POST /v1/calls` (agent-assisted outbound calls), list, inspect, hang up.

Bearer-authenticated with BRIDGE_API_TOKEN. Errors are JSON `{"error": {"code", "message"}}`,
with a message that says what to change.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, NoReturn

import structlog
from aiohttp import web

from bridge.calls.model import Direction, EndReason, Mode, Role
from bridge.calls.outbound import new_call_id
from bridge.calls.plan import CallPlan
from bridge.calls.routes import E164, LANGUAGE, SIP_URI
from bridge.carriers.twilio_rest import CarrierError
from bridge.web.keys import CONFIG, OUTBOUND, REGISTRY, SERVICES

log = structlog.get_logger(__name__)
CREATE_FIELDS = {"to", "agent", "source_language", "target_language", "mode"}


_ERRORS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    422: web.HTTPUnprocessableEntity,
    502: web.HTTPBadGateway,
    503: web.HTTPServiceUnavailable,
}


def fail(status: int, code: str, message: str) -> NoReturn:
    body = json.dumps({"error": {"code": code, "message": message}})
    raise _ERRORS[status](text=body, content_type="application/json")


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
    plan = _plan(await _json_object(request))
    if not request.app[REGISTRY].accepting():
        fail(
            503,
            "not_accepting",
            "this instance is draining or at BRIDGE_MAX_CALLS; retry on another",
        )
    try:
        agent_call_id = await request.app[SERVICES].control.dial(plan, Role.AGENT)
    except CarrierError as exc:
        log.warning("outbound_dial_failed", call_id=plan.call_id, error=str(exc))
        fail(502, "carrier_error", f"the carrier refused to dial the agent: {exc}")
    dial = request.app[OUTBOUND].add(plan, agent_call_id)
    log.info("outbound_call_started", call_id=plan.call_id, agent_call_id=agent_call_id)
    return web.json_response(dial.summary(), status=201)


async def list_calls(request: web.Request) -> web.Response:
    authorize(request)
    app = request.app
    live = [call.summary() for call in app[REGISTRY].live()]
    dialing = [dial.summary() for dial in app[OUTBOUND].pending()]
    return web.json_response({"calls": live + dialing + app[REGISTRY].recent()[::-1]})


async def get_call(request: web.Request) -> web.Response:
    authorize(request)
    return web.json_response(_find(request))


async def hang_up_call(request: web.Request) -> web.Response:
    authorize(request)
    app, call_id = request.app, request.match_info["call_id"]
    call = app[REGISTRY].get(call_id)
    if call is not None:
        await call.end(EndReason.API_HANGUP)
        return web.json_response(call.summary())
    dial = app[OUTBOUND].pop(call_id)
    if dial is None:
        _find(request)  # ended already (returns it) or unknown (404)
        fail(409, "already_ended", f"call {call_id} has already ended")
    try:
        await app[SERVICES].control.hang_up(dial.agent_call_id)
    except CarrierError as exc:
        log.warning("hang_up_failed", call_id=call_id, error=str(exc))
    dial.ended_at, dial.end_reason = app[OUTBOUND].clock(), EndReason.API_HANGUP
    app[REGISTRY].remember(dial.summary())
    return web.json_response(dial.summary())


def _find(request: web.Request) -> dict[str, Any]:
    app, call_id = request.app, request.match_info["call_id"]
    call = app[REGISTRY].get(call_id)
    if call is not None:
        return call.summary()
    dial = app[OUTBOUND].get(call_id)
    if dial is not None:
        return dial.summary()
    for summary in app[REGISTRY].recent():
        if summary["call_id"] == call_id:
            return summary
    fail(404, "not_found", f"no call {call_id} on this instance")


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        fail(400, "invalid_json", "the body must be a JSON object")
    if not isinstance(body, dict):
        fail(400, "invalid_json", "the body must be a JSON object")
    return body


def _plan(body: dict[str, Any]) -> CallPlan:
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
    if not isinstance(agent, str) or not (E164.match(agent) or SIP_URI.match(agent)):
        fail(422, "invalid_agent", "'agent' must be an E.164 number or a SIP URI (sip:agent@pbx)")
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
    return CallPlan(
        call_id=new_call_id(),
        direction=Direction.OUTBOUND,
        mode=mode,
        customer_language=languages[0],
        agent_language=languages[1],
        agent=agent,
        customer=to,
    )
