"""Carriers' HTTP webhooks: a new call (and its language menu), and call status changes.

Mounted once per configured carrier (`/{carrier}/voice`, `/{carrier}/voice/menu`,
`/{carrier}/status/{call_id}/{role}`). The carrier verifies each webhook against the public URL
it called (BRIDGE_PUBLIC_URL, not the address we see behind a proxy) before anything in it is
believed, and renders what the bridge decides. The voice webhook is stateless: its answer
connects the caller's media stream with a signed ticket, and the call itself is built when that
stream arrives, on whichever instance that is.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from bridge.calls.control import busy_answer, stream_target
from bridge.calls.model import Direction, EndReason, Role
from bridge.calls.outbound import new_call_id
from bridge.calls.plan import CallPlan
from bridge.carriers.interface import (
    Answer,
    AskForDigit,
    Carrier,
    ConnectStream,
    IncomingCall,
    Reply,
    SayAndHangUp,
    Speech,
    StatusChanged,
    Webhook,
    WebhookRefused,
)
from bridge.store.base import StoreUnavailable
from bridge.urls import public_http_url
from bridge.web.keys import CARRIERS, CONFIG, OUTBOUND, REGISTRY, SERVICES, STORE

log = structlog.get_logger(__name__)
NOT_IN_SERVICE = "Sorry, this number is not in service."
SPOKEN_CHARS_PER_S = 10.0  # a slow text-to-speech voice: how long a greeting may take


def menu_path(carrier: str) -> str:
    return f"/{carrier}/voice/menu"


async def voice(request: web.Request) -> web.Response:
    return await _webhook(request, "voice")


async def voice_menu(request: web.Request) -> web.Response:
    return await _webhook(request, "menu")


async def call_status(request: web.Request) -> web.Response:
    return await _webhook(request, "status")


async def _webhook(request: web.Request, kind: str) -> web.Response:
    carrier = request.app[CARRIERS][request.match_info["carrier"]]
    public_url = request.app[CONFIG].bridge.public_url
    try:
        webhook: Webhook = await carrier.read_webhook(request, public_url, kind)
    except WebhookRefused as refused:
        request.app[SERVICES].metrics.webhook_rejections.labels(refused.metric).inc()
        kind_of = web.HTTPForbidden if refused.status == 403 else web.HTTPBadRequest
        raise kind_of(text=refused.message + "\n") from None
    if isinstance(webhook, IncomingCall):
        answered: web.Response = await carrier.answer(webhook, _decide(request, carrier, webhook))
        return answered
    if isinstance(webhook, StatusChanged):
        await status_changed(request.app, webhook)
    if isinstance(webhook, Reply):
        return webhook.response
    return web.Response(status=204)


def _decide(request: web.Request, carrier: Carrier, call: IncomingCall) -> Answer:
    """What a new call gets: the busy message, "not in service", the menu, or its stream."""
    app, number = request.app, call.to
    settings = app[CONFIG].bridge
    if not app[REGISTRY].accepting():
        log.info("inbound_call_refused", to=number, draining=app[REGISTRY].draining)
        return busy_answer(settings)
    route = settings.routes.lookup(number)
    if route is None:
        log.warning("inbound_call_no_route", to=number, hint="add the number to BRIDGE_ROUTES")
        return SayAndHangUp((Speech(NOT_IN_SERVICE),))
    menu = route.menu if carrier.speaks else None  # no spoken menu: the route's language
    if menu is not None and call.digits is None:
        action = public_http_url(settings.public_url, menu_path(carrier.name))
        return AskForDigit(Speech(menu.prompt, route.say_language), action)
    language = route.customer_language
    if menu is not None and call.digits:
        language = menu.choices.get(call.digits, language)
    plan = CallPlan(
        call_id=new_call_id(),
        direction=Direction.INBOUND,
        mode=route.mode,
        customer_language=language,
        agent_language=route.agent_language,
        agent=route.agent,
        customer=None,
        customer_carrier=carrier.name,
        agent_carrier=route.agent_carrier or carrier.name,
        route=route,
    )
    # The caller's slot is held from now until their stream arrives (after the greeting).
    window = settings.start_timeout_s + len(route.greeting or "") / SPOKEN_CHARS_PER_S
    if not app[REGISTRY].reserve(plan.call_id, window):
        log.info("inbound_call_refused", to=number, draining=app[REGISTRY].draining)
        return busy_answer(settings)
    log.info(
        "inbound_call_answered",
        call_id=plan.call_id,
        carrier=carrier.name,
        carrier_call_id=call.carrier_call_id,
        to=number,
    )
    said = route.greeting if carrier.speaks else None
    greeting = Speech(said, route.say_language) if said else None
    target = stream_target(
        settings, plan, Role.CUSTOMER, settings.ticket_ttl_s, call.carrier_call_id
    )
    return ConnectStream(target, greeting)


async def status_changed(app: web.Application, change: StatusChanged) -> None:
    """A leg's carrier call changed state (from a webhook, or the console's desk)."""
    if change.call_id is None:
        return  # not a leg of one of our calls
    try:
        role = Role(change.role or "")
    except ValueError:
        raise web.HTTPNotFound(text="unknown leg role\n") from None
    call = app[REGISTRY].get(change.call_id)
    if call is not None:
        call.carrier_status(role, change.carrier_call_id, change.status, change.raw)
    elif change.status.unanswered:
        await _dial_unanswered(app, change.call_id, role, change.raw)


async def _dial_unanswered(app: web.Application, call_id: str, role: Role, status: str) -> None:
    """The agent of an outbound call never answered: end the dial, here or in the records."""
    reason = EndReason.unavailable(role)
    dial = app[OUTBOUND].pop(call_id)
    if dial is not None:
        dial.ended_at = app[OUTBOUND].clock()
        dial.end_reason, dial.detail = reason, status
        app[REGISTRY].release(call_id)
        app[REGISTRY].remember(dial.summary())
    else:  # dialled by another instance (POST /v1/calls is not hashed on a call id)
        try:
            if await app[STORE].end_pending_dial(call_id, reason.value, status) is None:
                return  # not an outbound dial of ours, or already over
        except StoreUnavailable as exc:
            log.warning("outbound_dial_end_unrecorded", call_id=call_id, error=str(exc))
            return
    log.info("outbound_call_unanswered", call_id=call_id, leg=role.value, status=status)
