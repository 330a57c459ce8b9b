"""Call control for Twilio: dial a leg into this call, hang up, apologise and hang up.

A dialled leg's TwiML connects its media stream back to this call, carrying a fresh ticket; its
status callbacks come to a path that names the call and the role, so a load balancer hashing on
the call id delivers them to the instance that owns the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from twilio.twiml.voice_response import VoiceResponse

from bridge.calls.model import Role
from bridge.calls.plan import CallPlan
from bridge.calls.settings import BridgeSettings
from bridge.calls.tickets import Ticket, issue
from bridge.carriers.twilio.rest import CarrierError, TwilioRest
from bridge.carriers.twilio.signature import public_http_url, public_ws_url
from bridge.carriers.twilio.twiml import Speech, connect_stream_twiml, say_hangup_twiml


def media_path(call_id: str) -> str:
    return f"/twilio/media/{call_id}"


def status_path(call_id: str, role: Role) -> str:
    return f"/twilio/status/{call_id}/{role.value}"


def ticket_for(
    plan: CallPlan, role: Role, expires_at: int, carrier_call_id: str | None = None
) -> Ticket:
    return Ticket(
        call_id=plan.call_id,
        role=role,
        direction=plan.direction,
        mode=plan.mode,
        customer_language=plan.customer_language,
        agent_language=plan.agent_language,
        expires_at=expires_at,
        route=plan.route.number if plan.route else None,
        customer=plan.customer,
        agent=plan.agent,
        carrier_call_id=carrier_call_id,
    )


def stream_twiml(
    settings: BridgeSettings,
    plan: CallPlan,
    role: Role,
    ttl_s: int,
    greeting: Speech | None = None,
    carrier_call_id: str | None = None,
) -> str:
    """TwiML that connects `role`'s media stream to this call, with a ticket valid for `ttl_s`
    (and only for the carrier call `carrier_call_id`, where the webhook named it)."""
    ticket = ticket_for(plan, role, int(time.time()) + ttl_s, carrier_call_id)
    return connect_stream_twiml(
        public_ws_url(settings.public_url, media_path(plan.call_id)),
        {"ticket": issue(ticket, settings.secret)},
        greeting=greeting,
    )


class TwilioCallControl:
    def __init__(
        self,
        rest: TwilioRest,
        settings: BridgeSettings,
        caller_id: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rest = rest
        self._settings = settings
        self._caller_id = caller_id
        self._clock = clock

    async def dial(self, plan: CallPlan, role: Role) -> str:
        to = plan.party(role)
        # Inbound: ring the agent from the number the customer dialled (ours, so Twilio allows it).
        from_ = plan.route.number if plan.route else self._caller_id
        if to is None or from_ is None:
            raise CarrierError(
                f"cannot dial the {role.value}: no number (set TWILIO_CALLER_ID for outbound calls)"
            )
        settings = self._settings
        return await self._rest.create_call(
            to=to,
            from_=from_,
            twiml=stream_twiml(
                settings, plan, role, settings.ring_timeout_s + settings.ticket_ttl_s
            ),
            status_callback=public_http_url(settings.public_url, status_path(plan.call_id, role)),
            timeout_s=settings.ring_timeout_s,
        )

    async def hang_up(self, carrier_call_id: str) -> None:
        await self._rest.hangup(carrier_call_id)

    async def say_and_hang_up(self, carrier_call_id: str, text: str, language: str | None) -> None:
        await self._rest.update_twiml(carrier_call_id, say_hangup_twiml(Speech(text, language)))

    async def turn_away(self, carrier_call_id: str) -> None:
        await self._rest.update_twiml(carrier_call_id, busy_twiml(self._settings))


def busy_twiml(settings: BridgeSettings) -> str:
    """What a caller gets when the bridge takes no new calls (draining, or at BRIDGE_MAX_CALLS):
    BRIDGE_BUSY_MESSAGE, or a transfer to BRIDGE_FALLBACK_NUMBER."""
    if settings.fallback_number is None:
        return say_hangup_twiml(Speech(settings.busy_message))
    response = VoiceResponse()
    response.dial(settings.fallback_number)
    return str(response)
