"""What a call is meant to be, fixed when its first leg arrives (from that leg's ticket)."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.audio.mixer import Ducking
from bridge.calls.barge_in import BargeIn
from bridge.calls.model import Direction, Mode, Role
from bridge.calls.routes import DEFAULT_APOLOGY, Route, Routes
from bridge.calls.tickets import Ticket


@dataclass(frozen=True, slots=True)
class CallPlan:
    call_id: str
    direction: Direction
    mode: Mode
    customer_language: str | None
    agent_language: str | None
    agent: str | None  # number or SIP URI of the agent; None: a one-leg call
    customer: str | None  # outbound: the number the bridge dials for the customer
    customer_carrier: str  # which carrier each leg is on (bridge/carriers/registry.py)
    agent_carrier: str
    route: Route | None = None  # inbound: the dialled number's routing entry

    def carrier(self, role: Role) -> str:
        return self.customer_carrier if role is Role.CUSTOMER else self.agent_carrier

    @property
    def roles(self) -> tuple[Role, ...]:
        """The legs this call needs before audio flows."""
        return (Role.CUSTOMER, Role.AGENT) if self.agent else (Role.CUSTOMER,)

    def party(self, role: Role) -> str | None:
        """The number (or SIP URI) that reaches `role`'s party, where the bridge knows it."""
        return self.agent if role is Role.AGENT else self.customer

    def dial_target(self, role: Role) -> str | None:
        """Whom the call itself must dial for `role` once the first leg is up, if anyone.

        Inbound: the customer called us, we dial the agent. Outbound: the API dialled the agent
        first; the customer is dialled once the agent's leg is up.
        """
        first = Role.CUSTOMER if self.direction is Direction.INBOUND else Role.AGENT
        return None if role is first else self.party(role)

    @property
    def apology(self) -> str:
        return self.route.apology if self.route else DEFAULT_APOLOGY

    @property
    def barge_in(self) -> BargeIn:
        return self.route.barge_in if self.route else BargeIn.OFF

    @property
    def ducking(self) -> Ducking | None:
        return self.route.ducking if self.route else None

    @property
    def say_language(self) -> str | None:
        return self.route.say_language if self.route else None

    @classmethod
    def from_ticket(cls, ticket: Ticket, routes: Routes, carrier: str) -> CallPlan:
        """The plan a ticket describes; `carrier` is its stream's, for a ticket that names
        no carriers."""
        route = routes.lookup(ticket.route) if ticket.route else None
        return cls(
            call_id=ticket.call_id,
            direction=ticket.direction,
            mode=ticket.mode,
            customer_language=ticket.customer_language,
            agent_language=ticket.agent_language,
            agent=ticket.agent,
            customer=ticket.customer,
            customer_carrier=ticket.customer_carrier or carrier,
            agent_carrier=ticket.agent_carrier or carrier,
            route=route,
        )
