"""The slice of Vonage's Voice API the bridge uses (carriers.md §5.3), served by the simulator.

`POST /v1/calls` dials (an inline `ncco`, `event_url`, `ringing_timer`) and answers 201 with
the call's uuid; `PUT /v1/calls/{uuid}` hangs up (`{"action": "hangup"}`) or replaces the
running NCCO (`{"action": "transfer", "destination": {"type": "ncco", "ncco": [...]}}`) and
answers 204; `GET /v1/calls` lists the calls it knows, newest first (`page_size` 1-100,
`record_index`), as the preflight check's read-only probe of the JWT. Every request must carry an application JWT (RS256) that the application's public
key verifies (401 otherwise); errors are Vonage's `{"type", "title", "detail", "instance"}`. A
call that is not live (unknown, or over) is 404: the bridge's hang-up treats that as done.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from bridge.carriers.vonage.appjwt import ApplicationTokens
from bridge.carriers.vonage.signature import bearer
from bridge.sim.vonage_call import VonageCallSetup, VonageSimCall
from bridge.sim.vonage_ncco import NccoError, parse_ncco

MAX_BODY = 64 * 1024
ERRORS = "https://developer.nexmo.com/api-errors"


class ApiError(Exception):
    def __init__(self, status: int, title: str, detail: str, kind: str = "") -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.kind = status, title, detail, kind

    def body(self) -> dict[str, str]:
        return {
            "type": f"{ERRORS}#{self.kind or self.title.lower().replace(' ', '-')}",
            "title": self.title,
            "detail": self.detail,
            "instance": str(uuid.uuid4()),
        }


class RestBackend(Protocol):
    tokens: ApplicationTokens
    calls: dict[str, VonageSimCall]
    fail_next: list[int]  # fault: the next requests get these HTTP statuses, in order
    requests: list[str]  # every request received: "POST /v1/calls", "GET /v1/calls", ...

    def dial(self, setup: VonageCallSetup) -> VonageSimCall: ...


BACKEND = web.AppKey("vonage_rest_backend", RestBackend)
Handler = Callable[[web.Request], Awaitable[web.Response]]


def _errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except ApiError as error:
            return web.json_response(error.body(), status=error.status)

    return wrapped


def add_routes(app: web.Application, backend: RestBackend) -> None:
    app[BACKEND] = backend
    app.router.add_post("/v1/calls", _errors(dial))
    app.router.add_get("/v1/calls", _errors(list_calls))
    app.router.add_put("/v1/calls/{uuid}", _errors(modify))


async def _authorised(request: web.Request) -> tuple[RestBackend, dict[str, Any]]:
    backend = request.app[BACKEND]
    backend.requests.append(f"{request.method} {request.path}")
    if backend.fail_next:
        status = backend.fail_next.pop(0)
        raise ApiError(status, "Internal Server Error", "injected fault", "internal")
    refusal = backend.tokens.refusal(bearer(request.headers.get("Authorization")), time.time())
    if refusal is not None:
        raise ApiError(401, "Unauthorized", f"Invalid Token: {refusal}")
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise ApiError(413, "Payload Too Large", f"body larger than {MAX_BODY} bytes")
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise ApiError(400, "Bad Request", "The request body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Bad Request", "The request body is not a JSON object")
    return backend, body


def _bad(detail: str) -> ApiError:
    return ApiError(400, "Bad Request", detail, "validation")


def _phone(value: Any, what: str) -> str:
    """A phone endpoint's number, as E.164 (Vonage writes digits without the '+')."""
    if not isinstance(value, dict) or value.get("type") != "phone":
        raise _bad(f"'{what}' must be a phone endpoint")
    number = value.get("number")
    if not isinstance(number, str) or not number.isdigit() or not 7 <= len(number) <= 15:
        raise _bad(f"'{what}.number' must be digits without '+', as Vonage writes numbers")
    return "+" + number


def _one_url(body: dict[str, Any], key: str) -> str:
    urls = body.get(key)
    if not isinstance(urls, list) or len(urls) != 1 or not isinstance(urls[0], str):
        raise _bad(f"'{key}' must be an array of one URL")
    return urls[0]


async def dial(request: web.Request) -> web.Response:
    backend, body = await _authorised(request)
    to = body.get("to")
    if not isinstance(to, list) or len(to) != 1:
        raise _bad("'to' must be an array of one endpoint")
    if "ncco" not in body:
        raise _bad("the simulator runs an inline 'ncco' (no answer_url)")
    try:
        ncco = parse_ncco(body["ncco"])
    except NccoError as error:
        raise _bad(f"'ncco': {error}") from None
    timer = body.get("ringing_timer", 60)
    if type(timer) is not int or not 1 <= timer <= 120:
        raise _bad("'ringing_timer' must be a whole number of seconds, 1-120")
    if body.get("event_method", "POST") not in ("GET", "POST"):
        raise _bad("'event_method' must be GET or POST")
    setup = VonageCallSetup(
        "outbound",
        _phone(body.get("from"), "from"),
        _phone(to[0], "to[0]"),
        _one_url(body, "event_url"),
        ncco=ncco,
        ringing_timer_s=float(timer),
    )
    call = backend.dial(setup)
    answer = {
        "uuid": call.sid,
        "status": "started",
        "direction": "outbound",
        "conversation_uuid": call.conversation_uuid,
    }
    return web.json_response(answer, status=201)


async def modify(request: web.Request) -> web.Response:
    backend, body = await _authorised(request)
    call = backend.calls.get(request.match_info["uuid"])
    if call is None or not call.live:
        raise ApiError(404, "Not Found", f"Call {request.match_info['uuid']} was not found")
    action = body.get("action")
    if action == "hangup":
        call.rest_hangup()
    elif action == "transfer":
        destination = body.get("destination")
        if not isinstance(destination, dict) or destination.get("type") != "ncco":
            raise _bad("transfer needs a destination of type 'ncco'")
        try:
            ncco = parse_ncco(destination.get("ncco"))
        except NccoError as error:
            raise _bad(f"'destination.ncco': {error}") from None
        call.rest_transfer(ncco)
    else:
        raise _bad(f"unknown action {str(action)[:40]!r} (hangup, transfer, ...)")
    return web.Response(status=204)


async def list_calls(request: web.Request) -> web.Response:
    """Vonage's paged call list: `count` is every call, `_embedded.calls` this page of them."""
    backend, _ = await _authorised(request)
    page_size = _whole(request.query.get("page_size", "10"), "page_size", 1, 100)
    index = _whole(request.query.get("record_index", "0"), "record_index", 0, 1_000_000)
    calls = list(reversed(backend.calls.values()))  # dict order is creation order
    page = [_call_record(call) for call in calls[index : index + page_size]]
    answer = {
        "count": len(calls),
        "page_size": page_size,
        "record_index": index,
        "_links": {"self": {"href": request.path_qs}},
        "_embedded": {"calls": page},
    }
    return web.json_response(answer)


def _whole(value: str, name: str, low: int, high: int) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise _bad(f"'{name}' must be a whole number, {low}-{high}")
    return int(value)


def _call_record(call: VonageSimCall) -> dict[str, Any]:
    return {
        "uuid": call.sid,
        "conversation_uuid": call.conversation_uuid,
        "direction": call.direction,
        "status": call.statuses[-1] if call.statuses else "started",
        "from": {"type": "phone", "number": call.from_.removeprefix("+")},
        "to": {"type": "phone", "number": call.to.removeprefix("+")},
        "_links": {"self": {"href": f"/v1/calls/{call.sid}"}},
    }
