"""Twilio's HTTP webhooks: the voice webhook (and its language menu) and call status callbacks.

Every request is signature-checked against the public URL Twilio called (BRIDGE_PUBLIC_URL, not
the address we see behind a proxy) before anything in it is believed. The voice webhook is
stateless: it answers with TwiML carrying a signed ticket, and the call itself is built when the
media stream arrives, on whichever instance that is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import structlog
from aiohttp import web

from bridge.calls.call import FAILED_DIAL_STATUSES
from bridge.calls.model import Direction, EndReason, Role
from bridge.calls.outbound import new_call_id
from bridge.calls.plan import CallPlan
from bridge.calls.twilio_control import busy_twiml, stream_twiml
from bridge.carriers.twilio.signature import SIGNATURE_HEADER, public_http_url
from bridge.carriers.twilio.twiml import Speech, language_menu_twiml, say_hangup_twiml
from bridge.store.base import StoreUnavailable
from bridge.web.keys import CONFIG, OUTBOUND, REGISTRY, SERVICES, SIGNATURES, STORE

log = structlog.get_logger(__name__)
NOT_IN_SERVICE = "Sorry, this number is not in service."
SPOKEN_CHARS_PER_S = 10.0  # a slow text-to-speech voice: how long a greeting may take
MENU_PATH = "/twilio/voice/menu"


async def verified_form(request: web.Request) -> Mapping[str, str]:
    """The webhook's form fields, if Twilio signed them; 403 otherwise (400: no form at all)."""
    try:
        form = await request.post()
    except web.HTTPException:
        raise  # 413: over the app's body limit
    except Exception as exc:  # aiohttp raises ValueError, LookupError, RuntimeError and its own
        # HttpProcessingError for bodies it cannot read (charsets, multipart); all are the
        # sender's fault and none may become a 500
        log.warning("twilio_webhook_unreadable", path=request.path, error=str(exc)[:200])
        raise web.HTTPBadRequest(
            text=f"The body is not a readable form ({str(exc)[:200]}); Twilio sends "
            "application/x-www-form-urlencoded UTF-8.\n"
        ) from None
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    url = public_http_url(request.app[CONFIG].bridge.public_url, request.path_qs)
    signature = request.headers.get(SIGNATURE_HEADER)
    params = cast("Mapping[str, str]", form)  # the validator reads repeated fields with getall()
    if not request.app[SIGNATURES].validate_webhook(url, params, signature):
        log.warning("twilio_signature_rejected", path=request.path, signed_url=url)
        request.app[SERVICES].metrics.webhook_rejections.labels("twilio_webhook").inc()
        raise web.HTTPForbidden(
            text="X-Twilio-Signature does not match this request. Check that TWILIO_AUTH_TOKEN is "
            "the account's primary auth token and that BRIDGE_PUBLIC_URL is the URL Twilio calls.\n"
        )
    return fields


def twiml(xml: str) -> web.Response:
    return web.Response(text=xml, content_type="text/xml")


async def voice(request: web.Request) -> web.Response:
    return _answer_inbound(request, await verified_form(request), menu_digit=None)


async def voice_menu(request: web.Request) -> web.Response:
    form = await verified_form(request)
    return _answer_inbound(request, form, menu_digit=form.get("Digits", ""))


def _answer_inbound(
    request: web.Request, form: Mapping[str, str], menu_digit: str | None
) -> web.Response:
    settings = request.app[CONFIG].bridge
    number = form.get("To", "")
    if not request.app[REGISTRY].accepting():
        log.info("inbound_call_refused", to=number, draining=request.app[REGISTRY].draining)
        return twiml(busy_twiml(settings))
    route = settings.routes.lookup(number)
    if route is None:
        log.warning("inbound_call_no_route", to=number, hint="add the number to BRIDGE_ROUTES")
        return twiml(say_hangup_twiml(Speech(NOT_IN_SERVICE)))
    if route.menu is not None and menu_digit is None:
        action = public_http_url(settings.public_url, MENU_PATH)
        prompt = Speech(route.menu.prompt, route.say_language)
        return twiml(language_menu_twiml([prompt], action, no_input_url=action))
    language = route.customer_language
    if route.menu is not None and menu_digit:
        language = route.menu.choices.get(menu_digit, language)
    plan = CallPlan(
        call_id=new_call_id(),
        direction=Direction.INBOUND,
        mode=route.mode,
        customer_language=language,
        agent_language=route.agent_language,
        agent=route.agent,
        customer=None,
        route=route,
    )
    greeting = Speech(route.greeting, route.say_language) if route.greeting else None
    carrier_call_id = form.get("CallSid") or None
    # The caller's slot is held from now until their stream arrives (after the greeting).
    window = settings.start_timeout_s + len(route.greeting or "") / SPOKEN_CHARS_PER_S
    if not request.app[REGISTRY].reserve(plan.call_id, window):
        log.info("inbound_call_refused", to=number, draining=request.app[REGISTRY].draining)
        return twiml(busy_twiml(settings))
    log.info(
        "inbound_call_answered", call_id=plan.call_id, carrier_call_id=carrier_call_id, to=number
    )
    return twiml(
        stream_twiml(
            settings, plan, Role.CUSTOMER, settings.ticket_ttl_s, greeting, carrier_call_id
        )
    )


async def call_status(request: web.Request) -> web.Response:
    form = await verified_form(request)
    call_id = request.match_info["call_id"]
    try:
        role = Role(request.match_info["role"])
    except ValueError:
        raise web.HTTPNotFound(text="unknown leg role\n") from None
    status, carrier_call_id = form.get("CallStatus", ""), form.get("CallSid", "")
    call = request.app[REGISTRY].get(call_id)
    if call is not None:
        call.carrier_status(role, carrier_call_id, status)
    elif status in FAILED_DIAL_STATUSES:
        await _dial_unanswered(request.app, call_id, role, status)
    return web.Response(status=204)


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
