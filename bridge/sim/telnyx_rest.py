"""The slice of Telnyx's Call Control v2 REST API the bridge uses (carriers.md §4).

`POST /v2/calls` dials; `POST /v2/calls/{call_control_id}/actions/{action}` commands a call;
`GET /v2/call_control_applications/{id}` shows the one application (the bridge's preflight).
Bearer auth with the API key (401, code 10009, otherwise), JSON bodies, and Telnyx's error
envelope `{"errors": [{"code", "title", "detail"}]}`: an unknown call is 404 (10005), a command
on a call that has ended is 422 (90018, "Call has already ended"), a bad field is 422 saying
which (telnyx_fields.py). `command_id` is Telnyx's idempotency key: a command repeated with the
same one on the same call is acknowledged and not carried out again.

Commands only start things and answer `{"data": {"result": "ok"}}` at once; what they cause
arrives later by webhook (telnyx_call.py).
"""

from __future__ import annotations

import functools
import hmac
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from bridge.sim.telnyx_call import TelnyxSimCall
from bridge.sim.telnyx_fields import (
    ApiError,
    DialRequest,
    client_state,
    dial_request,
    gather_request,
    invalid,
    optional_str,
    required_str,
    speak_request,
    stream_request,
)
from bridge.sim.telnyx_quirks import TelnyxQuirks

CALL_ENDED = "90018"
AUTH_FAILED = "10009"
NOT_FOUND = "10005"
ACTIONS = (
    "answer",
    "speak",
    "gather_using_speak",
    "streaming_start",
    "streaming_stop",
    "transfer",
    "hangup",
)
MAX_BODY = 64 * 1024


class RestBackend(Protocol):
    """What the REST API needs from the simulator."""

    api_key: str
    connection_id: str
    webhook_url: str | None  # the Call Control application's
    quirks: TelnyxQuirks
    calls: dict[str, TelnyxSimCall]

    def dial(self, request: DialRequest, command_id: str | None) -> TelnyxSimCall: ...


BACKEND = web.AppKey("telnyx_rest_backend", RestBackend)
Handler = Callable[[web.Request], Awaitable[web.Response]]


def _telnyx_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ApiError as error:
            return web.json_response(error.body(), status=error.status)

    return wrapped


def add_routes(app: web.Application, backend: RestBackend) -> None:
    app[BACKEND] = backend
    app.router.add_post("/v2/calls", _telnyx_errors(dial))
    app.router.add_post("/v2/calls/{call_control_id}/actions/{action}", _telnyx_errors(action))
    app.router.add_get("/v2/call_control_applications/{id}", _telnyx_errors(application))


async def _authorised(request: web.Request) -> tuple[RestBackend, dict[str, Any]]:
    """The account (after bearer auth) and the JSON body of a request."""
    backend = request.app[BACKEND]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = backend.api_key.encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise ApiError(
            401,
            AUTH_FAILED,
            "The required authentication headers were either invalid or not included in "
            "the request.",
            title="Authentication failed",
        )
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "10015", f"body larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise ApiError(400, "10015", "The request body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "10015", "The request body is not a JSON object")
    return backend, body


def _ok() -> web.Response:
    return web.json_response({"data": {"result": "ok"}})


async def dial(request: web.Request) -> web.Response:
    backend, body = await _authorised(request)
    dialled = dial_request(body, backend.connection_id)
    call = backend.dial(dialled, optional_str(body, "command_id"))
    data = {
        "call_control_id": call.sid,
        "call_leg_id": call.call_leg_id,
        "call_session_id": call.call_session_id,
        "is_alive": False,
        "record_type": "call",
    }
    return web.json_response({"data": data})


async def application(request: web.Request) -> web.Response:
    """The account's one Call Control application, shaped as Telnyx shows it."""
    backend, _ = await _authorised(request)
    if request.match_info["id"] != backend.connection_id:
        raise ApiError(
            404,
            NOT_FOUND,
            "The requested resource or URL could not be found.",
            title="Resource not found",
        )
    data = {
        "id": backend.connection_id,
        "record_type": "call_control_application",
        "application_name": "kallglot-bridge (simulated)",
        "active": True,
        "anchorsite_override": "Latency",
        "dtmf_type": "RFC 2833",
        "first_command_timeout": True,
        "first_command_timeout_secs": 30,
        "webhook_api_version": "2",
        "webhook_event_url": backend.webhook_url or "",
        "webhook_event_failover_url": "",
        "webhook_timeout_secs": None,
        "inbound": {"channel_limit": None, "sip_subdomain": None},
        "outbound": {"channel_limit": None, "outbound_voice_profile_id": None},
    }
    return web.json_response({"data": data})


async def action(request: web.Request) -> web.Response:
    backend, body = await _authorised(request)
    name = request.match_info["action"]
    call = backend.calls.get(request.match_info["call_control_id"])
    if call is None or name not in ACTIONS:
        raise ApiError(
            404,
            NOT_FOUND,
            "The requested resource or URL could not be found.",
            title="Resource not found",
        )
    if not call.live:
        if name == "hangup" and not backend.quirks.hangup_ended_is_422:
            return _ok()
        raise ApiError(422, CALL_ENDED, "Call has already ended", title="Call has already ended")
    command_id = optional_str(body, "command_id")
    if command_id is not None and command_id in call.command_ids:
        return _ok()  # a retry of a command already carried out
    _command(call, name, body)  # validates everything before it changes anything
    if command_id is not None:
        call.command_ids.add(command_id)
    return _ok()


def _command(call: TelnyxSimCall, name: str, body: dict[str, Any]) -> None:
    state = client_state(body)
    if name == "answer":
        if call.direction != "incoming" or call.answered.is_set():
            raise invalid("call_control_id", "answer: the call is not an unanswered incoming call")
        stream = stream_request(body)
        call.command(name, state)
        call.answer(stream)
    elif name == "speak":
        speech = speak_request(body)
        call.command(name, state)
        call.speak_text(speech)
    elif name == "gather_using_speak":
        gather = gather_request(body)
        call.command(name, state)
        call.gather(gather)
    elif name == "streaming_start":
        stream = stream_request(body)
        if stream is None:
            raise invalid("stream_url", "'stream_url' is required", "10004")
        call.command(name, state)
        call.start_stream(stream)
    elif name == "streaming_stop":
        call.command(name, state)
        call.stop_stream()
    elif name == "transfer":
        to = required_str(body, "to")
        call.command(name, state)
        call.transfer(to)
    else:
        call.command(name, state)
        call.hangup()
