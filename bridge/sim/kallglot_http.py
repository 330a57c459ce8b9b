"""The simulator's HTTP conventions: the NEW error envelope, X-Request-ID on every response,
API-key authentication, the rate-limit window and the credit headers (kallglot-api.md §1, §3)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from bridge.sim.kallglot_state import new_id

if TYPE_CHECKING:
    from bridge.sim.kallglot import KallglotSimulator

# Each request is handled in its own task, hence its own context: no need to thread it through.
REQUEST_ID: ContextVar[str | None] = ContextVar("kallglot_sim_request_id", default=None)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(
    status: int,
    type_: str,
    code: str,
    message: str,
    *,
    param: str | None = None,
    retry_after: float | None = None,
) -> web.Response:
    """The NEW error envelope (kallglot-api.md §3.1)."""
    body: dict[str, Any] = {"type": type_, "code": code, "message": message}
    body["request_id"] = REQUEST_ID.get()
    headers = {}
    if param:
        body["param"] = param
    if retry_after is not None:
        body["retry_after"] = retry_after
        # Fractional seconds are not RFC 9110, but tests need sub-second waits; ours parse them.
        headers["Retry-After"] = f"{retry_after:g}"
    return web.json_response({"error": body}, status=status, headers=headers)


def invalid(code: str, message: str, param: str | None = None) -> web.Response:
    return error(400, "invalid_request_error", code, message, param=param)


def middleware(sim: KallglotSimulator) -> Middleware:
    @web.middleware
    async def handle(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = new_id("req_")
        REQUEST_ID.set(request_id)
        sim.request_log.append((time.monotonic(), request.method, request.path))
        try:
            response = await _guarded(sim, request, handler)
        except web.HTTPException as exc:  # unknown route, wrong method
            code = "not_found" if exc.status == 404 else "invalid_request"
            response = error(exc.status, "invalid_request_error", code, exc.reason)
        if not response.prepared:
            response.headers["X-Request-ID"] = request_id
        return response

    return handle


async def _guarded(
    sim: KallglotSimulator, request: web.Request, handler: Handler
) -> web.StreamResponse:
    path = request.path
    if path.startswith("/v1/sessions") and await sim.unreachable_for(request):
        if request.transport is not None:
            request.transport.abort()  # as if the host went away: no answer at all
        return web.Response(status=503)  # never sent: the connection is gone
    if not path.startswith("/v1/") or path.endswith("/connect"):
        return await handler(request)  # the stream authenticates with its token; /_sim is open
    if not (path == "/v1/sessions" and request.method == "POST"):
        await asyncio.sleep(sim.faults.rest_latency_s)  # creates sleep inside their own handler
    auth = request.headers.get("Authorization", "")
    key = auth[7:].strip() if auth.startswith("Bearer ") else request.headers.get("X-API-Key")
    if key != sim.api_key:
        return error(
            401, "authentication_error", "invalid_api_key",
            "missing or unknown API key; send Authorization: Bearer <key>",
        )  # fmt: skip
    allowed, headers = sim.take_rate_limit()
    if not allowed:
        wait = max(1.0, float(headers["X-RateLimit-Reset"]) - sim.now())
        response: web.StreamResponse = error(
            429, "rate_limit_error", "rate_limit_exceeded", "slow down", retry_after=wait
        )
    elif sim.faults.inactive:
        response = error(
            403, "permission_error", "organization_inactive",
            "the organization's subscription is not active",
        )  # fmt: skip
    else:
        response = await handler(request)
    headers["X-API-Credits-Remaining"] = str(sim.credits_remaining)
    headers["X-API-Credits-Used"] = str(sim.credits_used)
    response.headers.update(headers)
    return response
