"""The slice of Exotel's REST API the bridge uses: `POST /v1/Accounts/{sid}/Calls/connect.json`,
and the preflight check's `GET /v1/Accounts/{sid}/Calls.json` (Bulk Call Details).

Basic auth with the account's API key and token (401 otherwise), a form body, and Exotel's
error envelope `{"RestException": {"Status", "Message"}}`. The dial is checked as Exotel checks
it: `From` (the party) and `CallerId` (one of the account's ExoPhones) are required, and `Url`
must name one of the account's flows (`http://my.exotel.com/{sid}/exoml/start_voice/{app_id}`).
Bulk Call Details lists the account's ended calls, newest first, one page of `PageSize` (1 to
100, default 50); like Exotel's it leaves out calls still under way. There is nothing else:
Exotel has no REST hang-up or call update (carriers.md §6.2).

Fault injection: `dial_failures` holds HTTP statuses the next dials get instead (popped in
order), to see the bridge's retries.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web

from bridge.carriers.exotel.auth import basic_header
from bridge.sim.exotel_call import ExotelSimCall

MAX_BODY = 64 * 1024
MAX_CUSTOM_FIELD = 4096
_FLOW = re.compile(r"https?://my\.exotel\.com/([^/]+)/exoml/start_voice/([0-9]+)")
_EVENTS = re.compile(r"StatusCallbackEvents\[[0-9]\]")


class RestBackend(Protocol):
    account_sid: str
    api_key: str
    api_token: str
    app_id: str
    exophones: set[str]
    dial_failures: list[int]

    @property
    def calls(self) -> Mapping[str, ExotelSimCall]: ...

    def dial(
        self,
        to: str,
        caller_id: str,
        custom_field: str,
        status_callback: str | None,
        status_events: tuple[str, ...],
        timeout_s: float,
    ) -> ExotelSimCall: ...


BACKEND = web.AppKey("exotel_rest_backend", RestBackend)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def response(self) -> web.Response:
        body = {"RestException": {"Status": self.status, "Message": self.message}}
        return web.json_response(body, status=self.status)


def add_routes(app: web.Application, backend: RestBackend) -> None:
    app[BACKEND] = backend
    app.router.add_post("/v1/Accounts/{sid}/Calls/connect.json", connect)
    app.router.add_post("/v1/Accounts/{sid}/Calls/connect", connect)
    app.router.add_get("/v1/Accounts/{sid}/Calls.json", list_calls)
    app.router.add_get("/v1/Accounts/{sid}/Calls", list_calls)


def _authorized(request: web.Request) -> RestBackend:
    """The backend, once the request's Basic credentials are the account's and its path names
    that account; ApiError (401, 403) otherwise, as Exotel answers."""
    backend = request.app[BACKEND]
    expected = basic_header(backend.api_key, backend.api_token).encode()
    presented = request.headers.get("Authorization", "").encode("utf-8", "replace")
    if not hmac.compare_digest(presented, expected):
        raise ApiError(401, "Authentication is required to view this resource.")
    if request.match_info["sid"] != backend.account_sid:
        raise ApiError(403, "The API key does not belong to this account.")
    return backend


async def connect(request: web.Request) -> web.Response:
    try:
        return await _connect(request)
    except ApiError as error:
        return error.response()


async def list_calls(request: web.Request) -> web.Response:
    try:
        return _list_calls(request)
    except ApiError as error:
        return error.response()


def _list_calls(request: web.Request) -> web.Response:
    backend = _authorized(request)
    size = request.query.get("PageSize", "50")
    if not size.isdigit() or not 1 <= int(size) <= 100:
        raise ApiError(400, f"PageSize {size[:10]!r} is not a number from 1 to 100.")
    ended = [call for call in backend.calls.values() if call.ended.is_set()]
    ended.sort(key=lambda call: call.created_at, reverse=True)
    uri = f"/v1/Accounts/{backend.account_sid}/Calls.json"
    body = {
        "Metadata": {
            "Total": len(ended),
            "PageSize": int(size),
            "FirstPageUri": f"{uri}?PageSize={size}",
            "PrevPageUri": None,
            "NextPageUri": None,  # the simulator's calls fit one page in every test
        },
        "Calls": [_record(call, backend.account_sid, call.status) for call in ended[: int(size)]],
    }
    return web.json_response(body)


def _record(call: ExotelSimCall, account_sid: str, status: str) -> dict[str, Any]:
    """A call as Exotel's API shows it (`Call` of a dial, an item of Bulk Call Details)."""
    return {
        "Sid": call.sid,
        "ParentCallSid": None,
        "AccountSid": account_sid,
        "To": call.to,
        "From": call.from_,
        "PhoneNumberSid": call.from_,
        "Status": status,
        "Direction": call.direction,
        "DateCreated": call.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "Uri": f"/v1/Accounts/{account_sid}/Calls/{call.sid}.json",
    }


async def _connect(request: web.Request) -> web.Response:
    backend = _authorized(request)
    if backend.dial_failures:
        raise ApiError(backend.dial_failures.pop(0), "Service temporarily unavailable.")
    if (request.content_length or 0) > MAX_BODY:
        raise ApiError(413, f"body larger than {MAX_BODY} bytes")
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    to, caller_id, url = form.get("From", ""), form.get("CallerId", ""), form.get("Url", "")
    if not to:
        raise ApiError(400, "From is a mandatory parameter.")
    if caller_id not in backend.exophones:
        raise ApiError(400, f"CallerId {caller_id!r} is not an ExoPhone of this account.")
    flow = _FLOW.fullmatch(url)
    if flow is None or flow.group(1) != backend.account_sid or flow.group(2) != backend.app_id:
        raise ApiError(400, f"Url {url[:80]!r} is not a flow of this account.")
    custom = form.get("CustomField", "")
    if len(custom) > MAX_CUSTOM_FIELD:
        raise ApiError(400, "CustomField is too long.")
    events = tuple(v for k, v in sorted(form.items()) if _EVENTS.fullmatch(k))
    if any(event not in ("terminal", "answered") for event in events):
        raise ApiError(400, "StatusCallbackEvents may be terminal and answered only.")
    timeout = form.get("TimeOut", "30")
    if not timeout.isdigit() or not 1 <= int(timeout) <= 3600:
        raise ApiError(400, f"TimeOut {timeout[:10]!r} is not a number of seconds.")
    callback = form.get("StatusCallback") or None
    if callback is not None and not callback.startswith(("http://", "https://")):
        raise ApiError(400, "StatusCallback is not an http(s) URL.")
    call = backend.dial(to, caller_id, custom, callback, events, float(timeout))
    return web.json_response({"Call": _record(call, backend.account_sid, "in-progress")})
