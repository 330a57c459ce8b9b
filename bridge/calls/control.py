"""Call control for the call, whatever carrier each leg is on.

A dialled leg is told to connect its media stream back to this call, with a fresh ticket, on
`/{carrier}/media/{call_id}`; its status changes come to `/{carrier}/status/{call_id}/{role}`.
Both paths name the call, so a load balancer hashing on the call id delivers them to the
instance that owns it. Each leg's carrier does the rest (bridge/carriers/interface.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from bridge.calls.model import Role
from bridge.calls.plan import CallPlan
from bridge.calls.settings import BridgeSettings
from bridge.calls.tickets import Ticket, issue
from bridge.carriers.interface import (
    Carrier,
    CarrierError,
    SayAndHangUp,
    Speech,
    StreamTarget,
    Transfer,
)
from bridge.urls import public_http_url, public_ws_url


def media_path(carrier: str, call_id: str) -> str:
    return f"/{carrier}/media/{call_id}"


def status_path(carrier: str, call_id: str, role: Role) -> str:
    return f"/{carrier}/status/{call_id}/{role.value}"


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
        customer_carrier=plan.customer_carrier,
        agent_carrier=plan.agent_carrier,
    )


def stream_target(
    settings: BridgeSettings,
    plan: CallPlan,
    role: Role,
    ttl_s: int,
    carrier_call_id: str | None = None,
) -> StreamTarget:
    """Where `role`'s media stream connects, with a ticket valid for `ttl_s` (and only for the
    carrier call `carrier_call_id`, where the webhook named it)."""
    ticket = ticket_for(plan, role, int(time.time()) + ttl_s, carrier_call_id)
    return StreamTarget(
        public_ws_url(settings.public_url, media_path(plan.carrier(role), plan.call_id)),
        {"ticket": issue(ticket, settings.secret)},
    )


def busy_answer(settings: BridgeSettings) -> SayAndHangUp | Transfer:
    """What a caller gets when the bridge takes no new calls (draining, or at BRIDGE_MAX_CALLS):
    BRIDGE_BUSY_MESSAGE, or a transfer to BRIDGE_FALLBACK_NUMBER."""
    if settings.fallback_number is None:
        return SayAndHangUp((Speech(settings.busy_message),))
    return Transfer(settings.fallback_number)


class CallControl:
    def __init__(self, carriers: Mapping[str, Carrier], settings: BridgeSettings) -> None:
        self._carriers = carriers
        self._settings = settings

    async def dial(self, plan: CallPlan, role: Role) -> str:
        """Starts ringing `role`'s party on its carrier; the carrier's id for that call."""
        carrier = self._carrier(plan.carrier(role))
        to = plan.party(role)
        # Inbound: ring the agent from the number the customer dialled (ours: the carrier
        # allows it); outbound: from the carrier's configured caller id.
        from_ = plan.route.number if plan.route else carrier.control.caller_id
        if to is None or from_ is None:
            raise CarrierError(
                f"cannot dial the {role.value}: no number (set a caller id for outbound calls "
                f"on {carrier.name})"
            )
        settings = self._settings
        return await carrier.control.dial(
            to,
            from_,
            stream_target(settings, plan, role, settings.ring_timeout_s + settings.ticket_ttl_s),
            public_http_url(settings.public_url, status_path(carrier.name, plan.call_id, role)),
            settings.ring_timeout_s,
        )

    async def hang_up(self, carrier: str, carrier_call_id: str) -> None:
        await self._carrier(carrier).control.hang_up(carrier_call_id)

    async def say_and_hang_up(
        self, carrier: str, carrier_call_id: str, text: str, language: str | None
    ) -> None:
        """Replaces whatever the party hears with `text`, then hangs up."""
        speech = SayAndHangUp((Speech(text, language),))
        await self._carrier(carrier).control.redirect(carrier_call_id, speech)

    async def settle(self, timeout_s: float) -> None:
        """Every carrier finishes what it left to a later webhook (`CarrierControl.settle`)."""
        await asyncio.gather(*(c.control.settle(timeout_s) for c in self._carriers.values()))

    async def turn_away(self, carrier: str, carrier_call_id: str) -> None:
        """Tells the party the bridge is busy (or forwards them to the fallback number)."""
        await self._carrier(carrier).control.redirect(carrier_call_id, busy_answer(self._settings))

    def _carrier(self, name: str) -> Carrier:
        carrier = self._carriers.get(name)
        if carrier is None:
            raise CarrierError(f"carrier {name!r} is not configured on this bridge")
        return carrier
