"""The slice of Twilio's REST API the bridge uses: create, fetch and update Calls.

Shaped so that the real `twilio` client cannot tell the difference: form-encoded bodies
(repeated `StatusCallbackEvent`), HTTP Basic auth with AccountSid:AuthToken, JSON resources with
Twilio's field names and RFC 2822 dates, and Twilio's error document
(`{"code", "message", "more_info", "status"}`), which the client turns into TwilioRestException.
"""

from __future__ import annotations

import functools
import hmac
import re
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import BasicAuth, web

from bridge.sim.carrier_call import API_VERSION, CallSetup, SimCall
from bridge.sim.carrier_callbacks import rfc2822
from bridge.sim.twiml_exec import Document
from bridge.sim.twiml_parse import TwimlError, parse_twiml

BASE = f"/{API_VERSION}/Accounts/{{account_sid}}"
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
_ADDRESS = re.compile(r"\+[1-9][0-9]{1,14}|client:[\w.-]+|sip:\S+")
MAX_TWIML = 4000


class RestBackend(Protocol):
    """What the REST API needs from the simulator."""

    account_sid: str
    auth_token: str
    calls: dict[str, SimCall]

    def dial(self, setup: CallSetup) -> SimCall: ...


BACKEND = web.AppKey("carrier_rest_backend", RestBackend)


class TwilioError(Exception):
    """Answered with Twilio's JSON error document by `_twilio_errors`."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> web.Response:
        body = {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if self.status == 401 else None
        return web.json_response(body, status=self.status, headers=headers)


Handler = Callable[[web.Request], Awaitable[web.Response]]


def _twilio_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except TwilioError as error:
            return error.response()

    return wrapped


def add_routes(app: web.Application, backend: RestBackend) -> None:
    app[BACKEND] = backend
    app.router.add_post(f"{BASE}/Calls.json", _twilio_errors(create_call))
    app.router.add_get(f"{BASE}/Calls/{{call_sid}}.json", _twilio_errors(fetch_call))
    app.router.add_post(f"{BASE}/Calls/{{call_sid}}.json", _twilio_errors(update_call))


def _backend(request: web.Request) -> RestBackend:
    """The account behind the request, after HTTP Basic auth; 401 (20003) otherwise."""
    backend = request.app[BACKEND]
    try:
        auth = BasicAuth.decode(request.headers.get("Authorization", ""))
    except ValueError:
        auth = None
    if (
        auth is None
        or not hmac.compare_digest(auth.login.encode(), backend.account_sid.encode())
        or not hmac.compare_digest(auth.password.encode(), backend.auth_token.encode())
    ):
        raise TwilioError(401, 20003, "Authenticate")
    if request.match_info["account_sid"] != backend.account_sid:
        raise _not_found(request)
    return backend


def _not_found(request: web.Request) -> TwilioError:
    return TwilioError(404, 20404, f"The requested resource {request.path} was not found")


def call_resource(call: SimCall) -> dict[str, Any]:
    status = call.reported_status
    uri = f"/{API_VERSION}/Accounts/{call.account_sid}/Calls/{call.sid}"
    duration = call.duration_s
    return {
        "account_sid": call.account_sid,
        "annotation": None,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": rfc2822(call.created_at),
        "date_updated": rfc2822(call.updated_at),
        "direction": call.direction,
        "duration": None if duration is None else str(duration),
        "end_time": rfc2822(call.ended_at) if call.ended_at else None,
        "forwarded_from": None,
        "from": call.from_,
        "from_formatted": call.from_,
        "group_sid": None,
        "parent_call_sid": None,
        "phone_number_sid": None,
        "price": None,
        "price_unit": "USD",
        "queue_time": "0",
        "sid": call.sid,
        "start_time": rfc2822(call.answered_at) if call.answered_at else None,
        "status": "queued" if status == "initiated" else status,
        "subresource_uris": {
            "notifications": f"{uri}/Notifications.json",
            "recordings": f"{uri}/Recordings.json",
            "streams": f"{uri}/Streams.json",
        },
        "to": call.to,
        "to_formatted": call.to,
        "trunk_sid": None,
        "uri": f"{uri}.json",
    }


def _document(form: Any, for_update: bool) -> Document | None:
    url, twiml = form.get("Url"), form.get("Twiml")
    method = str(form.get("Method", "POST")).upper()
    if method not in ("GET", "POST"):
        raise TwilioError(400, 21205, f"Method {method!r} must be GET or POST")
    if url:
        if not str(url).startswith(("http://", "https://")):
            raise TwilioError(400, 21205, f"Url {url!r} is not a valid URL")
        return Document(str(url), method)
    if twiml:
        if len(twiml) > MAX_TWIML:
            raise TwilioError(400, 21205, f"Twiml is longer than {MAX_TWIML} characters")
        try:
            return Document(None, verbs=parse_twiml(str(twiml)))
        except TwimlError as error:
            raise TwilioError(400, 12100, f"Twiml is invalid: {error}") from None
    if for_update:
        return None
    raise TwilioError(400, 21205, "Url, Twiml or ApplicationSid is required")


async def create_call(request: web.Request) -> web.Response:
    backend = _backend(request)
    form = await request.post()
    to, from_ = str(form.get("To", "")), str(form.get("From", ""))
    if not to:
        raise TwilioError(400, 21201, "No 'To' number is specified")
    if not _ADDRESS.fullmatch(to):
        raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if not from_:
        raise TwilioError(400, 21213, "No 'From' number is specified")
    if not _ADDRESS.fullmatch(from_):
        raise TwilioError(400, 21212, f"Invalid 'From' Phone Number: {from_}")
    document = _document(form, for_update=False)
    assert document is not None
    events = tuple(str(e) for e in form.getall("StatusCallbackEvent", []))
    if unknown := [e for e in events if e not in STATUS_EVENTS]:
        raise TwilioError(400, 21626, f"StatusCallbackEvent {unknown} not one of {STATUS_EVENTS}")
    callback_method = str(form.get("StatusCallbackMethod", "POST")).upper()
    if callback_method not in ("GET", "POST"):
        raise TwilioError(400, 21205, "StatusCallbackMethod must be GET or POST")
    try:
        timeout = int(str(form.get("Timeout", "60")))
    except ValueError:
        timeout = -1
    if not 1 <= timeout <= 600:
        raise TwilioError(400, 21216, "Timeout must be a whole number of seconds, 1 to 600")
    call = backend.dial(
        CallSetup(
            direction="outbound-api",
            from_=from_,
            to=to,
            document=document,
            status_callback=str(form["StatusCallback"]) if form.get("StatusCallback") else None,
            status_callback_method=callback_method,
            status_events=events or ("completed",),
            timeout_s=float(timeout),
        )
    )
    return web.json_response(call_resource(call), status=201)


async def fetch_call(request: web.Request) -> web.Response:
    call = _backend(request).calls.get(request.match_info["call_sid"])
    if call is None:
        raise _not_found(request)
    return web.json_response(call_resource(call))


async def update_call(request: web.Request) -> web.Response:
    call = _backend(request).calls.get(request.match_info["call_sid"])
    if call is None or not call.live:  # an ended call cannot be changed: 20404, as on Twilio
        raise _not_found(request)
    form = await request.post()
    status = form.get("Status")
    if status is not None and status not in ("completed", "canceled"):
        raise TwilioError(400, 21218, f"Status {status!r} must be completed or canceled")
    document = _document(form, for_update=True)
    if status is not None:
        call.api_status(str(status))
    elif document is not None:
        call.api_redirect(document)
    return web.json_response(call_resource(call))
