"""The slice of Plivo's Voice API the bridge uses (carriers.md §6.1), under `/v1/Account/{id}/`.

`POST Call/` dials (201, `request_uuid`); `DELETE Call/{uuid}/` hangs up a live call (204);
`DELETE Request/{uuid}/` cancels a dial still ringing (204); `POST Call/{uuid}/` with
`legs=aleg` and `aleg_url` transfers the call to new XML (202); `GET /v1/Account/{id}/` gives
the account's details (the preflight check's probe). Basic auth with the auth id and
token (401 otherwise, and for another account's path); a call Plivo no longer has is 404; a
missing or bad field is 400 naming it. Bodies as JSON or a form. Plivo's error body:
`{"api_id": ..., "error": "..."}`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import uuid
from typing import Any, Protocol

from aiohttp import web

from bridge.sim.plivo_call import PlivoSimCall

MAX_BODY = 64 * 1024
ACCOUNT_NAME, ACCOUNT_TYPE = "Plivo simulator", "standard"
AUTH_FAILED = "authentication failed: check the auth id and token"


class RestBackend(Protocol):
    auth_id: str
    auth_token: str
    calls: dict[str, PlivoSimCall]
    requests: dict[str, PlivoSimCall]

    def dial(self, fields: dict[str, Any]) -> PlivoSimCall: ...


BACKEND = web.AppKey("plivo_rest_backend", RestBackend)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _reply(status: int, body: dict[str, Any] | None = None) -> web.Response:
    if body is None:
        return web.Response(status=status)
    return web.json_response({"api_id": str(uuid.uuid4())} | body, status=status)


def _authorised(request: web.Request, sim: RestBackend) -> bool:
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return (
        hmac.compare_digest(user.encode(), sim.auth_id.encode())
        and hmac.compare_digest(password.encode(), sim.auth_token.encode())
        and request.match_info.get("auth_id") == sim.auth_id
    )


async def _fields(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "request body too large")
    if request.content_type == "application/json":
        try:
            body = json.loads(await request.text())
        except ValueError:
            raise ApiError(400, "body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "body is not a JSON object")
        return body
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


def _url(fields: dict[str, Any], name: str, required: bool) -> str | None:
    value = fields.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ApiError(400, f"{name} must be an absolute http(s) URL")
    return value


def _call(request: web.Request, sim: RestBackend) -> PlivoSimCall:
    call = sim.calls.get(request.match_info["uuid"])
    if call is None or not call.live or not call.answered.is_set():
        raise ApiError(404, "not found")
    return call


async def _handle(request: web.Request) -> web.Response:
    sim = request.app[BACKEND]
    if not _authorised(request, sim):
        return _reply(401, {"error": AUTH_FAILED})
    try:
        action = request.match_info["action"]
        if request.method == "POST" and action == "Call" and "uuid" not in request.match_info:
            fields = await _fields(request)
            for name in ("from", "to"):
                if not isinstance(fields.get(name), str) or not fields[name]:
                    raise ApiError(400, f"{name} is required")
            _url(fields, "answer_url", True)
            for name in ("ring_url", "hangup_url"):
                _url(fields, name, False)
            call = sim.dial(fields)
            return _reply(201, {"message": "call fired", "request_uuid": call.request_uuid})
        if request.method == "DELETE" and action == "Request":
            pending = sim.requests.get(request.match_info["uuid"])
            if pending is None or not pending.ringing:
                raise ApiError(404, "not found")
            pending.api_cancel()
            return _reply(204)
        call = _call(request, sim)
        if request.method == "DELETE":
            call.api_hangup()
            return _reply(204)
        fields = await _fields(request)
        if fields.get("legs") != "aleg":
            raise ApiError(400, "legs must be aleg (the simulator transfers the A leg only)")
        url = _url(fields, "aleg_url", True)
        assert url is not None
        call.api_transfer(url)
        return _reply(202, {"message": "call transferred"})
    except ApiError as error:
        return _reply(error.status, {"error": error.message})


async def _account(request: web.Request) -> web.Response:
    """Plivo's "Get account details", with the fields a real main account answers with."""
    sim = request.app[BACKEND]
    if not _authorised(request, sim):
        return _reply(401, {"error": AUTH_FAILED})
    return _reply(
        200,
        {
            "account_type": ACCOUNT_TYPE,
            "address": "",
            "auth_id": sim.auth_id,
            "auto_recharge": False,
            "billing_mode": "prepaid",
            "cash_credits": "10.00000",
            "city": "",
            "name": ACCOUNT_NAME,
            "resource_uri": f"/v1/Account/{sim.auth_id}/",
            "state": "",
            "timezone": "UTC",
        },
    )


def add_routes(app: web.Application, sim: RestBackend) -> None:
    app[BACKEND] = sim
    app.router.add_get("/v1/Account/{auth_id}/", _account)
    base = "/v1/Account/{auth_id}/{action:Call|Request}/"
    app.router.add_post(
        base.rstrip("/").replace("{action:Call|Request}", "{action:Call}") + "/", _handle
    )
    app.router.add_route("*", base + "{uuid}/", _handle)
