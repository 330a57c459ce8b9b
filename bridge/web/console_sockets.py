"""The console's WebSockets: the desk (an agent's calls, and rings) and a call's live captions.

Browsers cannot set headers on a WebSocket, and a key in the query string would land in access
logs: the page sends its key as the first message, and a socket that does not within
`SIGN_IN_S` is closed. Refusals use close codes the page understands (4401 sign in again, 4403
not your call, 4404 no such live call here). The captions socket is on the call's path
(`/console/calls/{call_id}/...`), which a cluster's balancer hashes like the media path, so it
reaches the instance that holds the call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from bridge.calls.captions import Caption
from bridge.calls.console_keys import ConsoleKey, KeyRefused
from bridge.web.call_view import iso_utc
from bridge.web.console_calls import agent_id, calls_for
from bridge.web.console_pages import check_key, desk
from bridge.web.keys import OUTBOUND, REGISTRY

log = structlog.get_logger(__name__)
SIGN_IN_S = 10.0
DESK_REFRESH_S = 2.0
MAX_MESSAGE_BYTES = 4096  # the page sends only its key
UNAUTHORIZED, FORBIDDEN, NOT_FOUND = 4401, 4403, 4404


async def desk_socket(request: web.Request) -> web.StreamResponse:
    """`/console/desk`: the agent's calls, pushed on every ring change and every 2 s."""
    app = request.app

    async def serve(ws: web.WebSocketResponse, key: ConsoleKey) -> None:
        rings = desk(app)
        while not ws.closed:
            calls = calls_for(key.agent, app[REGISTRY], app[OUTBOUND], rings)
            await ws.send_str(json.dumps({"type": "calls", "calls": calls}))
            await rings.next_change(DESK_REFRESH_S)

    return await _signed_in_socket(request, serve)


async def captions_socket(request: web.Request) -> web.StreamResponse:
    """`/console/calls/{call_id}/captions`: the call's captions and state, until it ends."""
    call_id = request.match_info["call_id"]

    async def serve(ws: web.WebSocketResponse, key: ConsoleKey) -> None:
        call = request.app[REGISTRY].get(call_id)
        if call is None:
            await ws.close(code=NOT_FOUND, message=b"no such live call here")
            return
        if agent_id(call.plan.agent) != key.agent:
            log.warning("console_captions_refused", call_id=call_id, agent=key.agent)
            await ws.close(code=FORBIDDEN, message=b"not your call")
            return
        feed = call.captions
        queue = feed.watch()
        try:
            while (update := await queue.get()) is not None:
                body = update.to_json(iso_utc) if isinstance(update, Caption) else update.to_json()
                await ws.send_str(json.dumps(body))
        finally:
            feed.unwatch(queue)
        await ws.close(code=1000, message=b"call ended")

    return await _signed_in_socket(request, serve)


async def _signed_in_socket(
    request: web.Request,
    serve: Callable[[web.WebSocketResponse, ConsoleKey], Coroutine[Any, Any, None]],
) -> web.WebSocketResponse:
    """Signs the socket in, then runs `serve` until it returns or the page goes away."""
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=20.0)
    await ws.prepare(request)
    try:
        async with asyncio.timeout(SIGN_IN_S):
            first = await ws.receive()
        token = json.loads(first.data).get("key") if first.type is WSMsgType.TEXT else None
        key = check_key(request.app, token if isinstance(token, str) else None)
    except (TimeoutError, ValueError, AttributeError, KeyRefused) as exc:
        reason = str(exc) if isinstance(exc, KeyRefused) else 'send {"key": ...} first'
        await ws.close(code=UNAUTHORIZED, message=reason.encode()[:120])
        return ws
    serving = asyncio.create_task(serve(ws, key), name="console-socket")
    try:
        async for _ in ws:  # the page says nothing more; this notices it leaving
            pass
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
    return ws
