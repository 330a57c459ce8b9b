"""The agent console over HTTP: the page and its files, sign-in links, and what an agent does
to a call (answer, decline, hang up).

The page is static (bridge/web/console/, package data) and learns who the agent is from the key
in its sign-in link, which it sends as a bearer token. `POST /v1/agents/{id}/console-links`
(the operator API's token) issues those links. Answering hands the page the leg's media ticket
once (bridge/carriers/browser/desk.py); nothing the page ever holds names a Kallglot key or
stream token: the page talks only to the bridge.
"""

from __future__ import annotations

import json
import re
import time
from importlib import resources
from typing import Any

import structlog
from aiohttp import web

from bridge.calls.console_keys import (
    DEFAULT_TTL_S,
    MAX_TTL_S,
    ConsoleKey,
    KeyRefused,
    issue_key,
    verify_key,
)
from bridge.calls.model import EndReason
from bridge.calls.routes import AGENT_ID
from bridge.carriers.browser import NAME as BROWSER
from bridge.carriers.browser import AnswerRefused, BrowserCarrier, Desk
from bridge.carriers.browser.desk import OPEN_WITHIN_S
from bridge.urls import public_http_url
from bridge.web.api import authorize
from bridge.web.api_errors import fail
from bridge.web.call_view import iso_utc
from bridge.web.console_calls import agent_id
from bridge.web.keys import CARRIERS, CONFIG, REGISTRY

log = structlog.get_logger(__name__)
FILES = resources.files("bridge.web") / "console"
STATIC_NAME = re.compile(r"^[a-z][a-z0-9-]*\.(js|css)$")
CONTENT_TYPES = {"js": "text/javascript", "css": "text/css"}
# The page loads only its own files and talks only to its own origin (WebSockets included).
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def page(request: web.Request) -> web.Response:
    return web.Response(
        body=(FILES / "index.html").read_bytes(), content_type="text/html", headers=HEADERS
    )


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    file = FILES / name
    if not STATIC_NAME.match(name) or not file.is_file():
        raise web.HTTPNotFound(text=f"no console file {name!r}\n")
    kind = CONTENT_TYPES[name.rpartition(".")[2]]
    return web.Response(body=file.read_bytes(), content_type=kind, headers=HEADERS)


async def console_link(request: web.Request) -> web.Response:
    """`POST /v1/agents/{agent_id}/console-links`: a sign-in link for one agent."""
    authorize(request)
    agent = request.match_info["agent_id"]
    if not AGENT_ID.match(agent):
        fail(
            422,
            "invalid_agent",
            "an agent id is 1-64 letters, digits and _.@+- (the id in a route's "
            "'browser:<id>', or a phone agent's E.164 number)",
        )
    body = await _optional_json(request)
    ttl = body.get("ttl_s", DEFAULT_TTL_S)
    if type(ttl) is not int or not 60 <= ttl <= MAX_TTL_S:
        fail(422, "invalid_ttl_s", f"'ttl_s' must be a whole number of seconds in 60..{MAX_TTL_S}")
    settings = request.app[CONFIG].bridge
    key = ConsoleKey(agent, int(time.time()) + ttl)
    url = (
        public_http_url(settings.public_url, "/console") + "#key=" + issue_key(key, settings.secret)
    )
    log.info("console_link_issued", agent=agent, ttl_s=ttl)
    return web.json_response(
        {"agent": agent, "url": url, "expires_at": iso_utc(key.expires_at)}, status=201
    )


async def me(request: web.Request) -> web.Response:
    key = signed_in(request)
    return web.json_response({"agent": key.agent, "expires_at": iso_utc(key.expires_at)})


async def answer(request: web.Request) -> web.Response:
    key, call_id = signed_in(request), request.match_info["call_id"]
    try:
        ring = desk(request.app).answer(call_id, key.agent)
    except AnswerRefused as refused:
        _refuse(refused)
    return web.json_response(
        {
            "media_url": ring.target.url,
            "ticket": f"{ring.id}.{ring.target.parameters['ticket']}",
            "ticket_expires_in_s": int(OPEN_WITHIN_S),
        }
    )


async def decline(request: web.Request) -> web.Response:
    key, call_id = signed_in(request), request.match_info["call_id"]
    try:
        desk(request.app).decline(call_id, key.agent)
    except AnswerRefused as refused:
        _refuse(refused)
    return web.Response(status=204)


async def hang_up(request: web.Request) -> web.Response:
    """The agent ends the call from the console (whether their leg is a browser or a phone)."""
    key, call_id = signed_in(request), request.match_info["call_id"]
    call = request.app[REGISTRY].get(call_id)
    if call is None or agent_id(call.plan.agent) != key.agent:
        fail(404, "not_found", "no live call of yours has that id (it may have ended)")
    log.info("console_hang_up", call_id=call_id, agent=key.agent)
    await call.end(EndReason.AGENT_HANGUP)
    return web.Response(status=204)


def signed_in(request: web.Request) -> ConsoleKey:
    """The agent whose console sent this (401 with what to do, otherwise)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        return check_key(request.app, token.strip() if scheme.lower() == "bearer" else None)
    except KeyRefused as exc:
        fail(401, "unauthorized", str(exc))


def check_key(app: web.Application, token: str | None) -> ConsoleKey:
    return verify_key(token, app[CONFIG].bridge.secret, time.time())


def desk(app: web.Application) -> Desk:
    carrier = app[CARRIERS][BROWSER]
    assert isinstance(carrier, BrowserCarrier)
    return carrier.desk


def _refuse(refused: AnswerRefused) -> None:
    codes = {404: "not_found", 409: "conflict", 410: "gone"}
    fail(refused.status, codes[refused.status], refused.message)


async def _optional_json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = json.loads(await request.text())
    except ValueError:
        fail(400, "invalid_json", "the body must be a JSON object (or empty)")
    if not isinstance(body, dict):
        fail(400, "invalid_json", "the body must be a JSON object (or empty)")
    return body
