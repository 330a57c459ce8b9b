"""Signed call tickets: how a media stream proves it belongs to a call this bridge created.

The voice webhook (or the dialler) answers with TwiML whose `<Stream>` carries a ticket as a
`<Parameter>`. It names the call, the leg's role and everything needed to build the call on
whichever instance the stream lands (the webhook is stateless, so any instance may have issued
it), and it expires quickly so a leaked ticket is worth little. Where the carrier's webhook named
its call (the CallSid), the ticket binds it: only a stream for that very carrier call may use
it. A ticket is good for one stream (bridge/calls/admission.py). Format: base64url(JSON) "."
base64url(HMAC-SHA256); compact because carriers limit stream parameters (to ~500 characters).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from bridge.calls.model import Direction, Mode, Role
from bridge.calls.signing import decode, genuine_body, sign


class TicketError(ValueError):
    """The ticket is missing, forged, expired or for another call; the message says which."""


@dataclass(frozen=True, slots=True)
class Ticket:
    call_id: str
    role: Role
    direction: Direction
    mode: Mode
    customer_language: str | None
    agent_language: str | None
    expires_at: int  # unix seconds
    route: str | None = None  # inbound: the dialled number, the key into the routing file
    customer: str | None = None  # outbound: the number the bridge dials for the customer
    agent: str | None = None  # who the agent leg is (number or SIP URI), for records and dialling
    carrier_call_id: str | None = None  # the carrier's id of the call this leg's stream is for
    # Each leg's carrier (bridge/carriers/registry.py); None in tickets from before carriers
    # were named: the stream's own carrier is meant then.
    customer_carrier: str | None = None
    agent_carrier: str | None = None


_FIELDS = {
    "c": "call_id",
    "r": "role",
    "d": "direction",
    "m": "mode",
    "cl": "customer_language",
    "al": "agent_language",
    "x": "expires_at",
    "rt": "route",
    "cu": "customer",
    "ag": "agent",
    "cc": "carrier_call_id",
    "kc": "customer_carrier",
    "ka": "agent_carrier",
}
_KEYS = {v: k for k, v in _FIELDS.items()}


def issue(ticket: Ticket, secret: bytes) -> str:
    fields = {_KEYS[k]: v for k, v in asdict(ticket).items() if v is not None}
    return sign(json.dumps(fields, separators=(",", ":"), sort_keys=True).encode(), secret)


def verify(token: str | None, secret: bytes, *, call_id: str, now: float) -> Ticket:
    """The ticket inside `token`, if it is genuine, unexpired and for `call_id`."""
    if not token:
        raise TicketError("no ticket: the stream carries no 'ticket' parameter")
    body = genuine_body(token, secret)
    if body is None:
        raise TicketError("forged ticket: the signature does not match (is BRIDGE_SECRET shared?)")
    try:
        raw = {_FIELDS[key]: value for key, value in json.loads(decode(body)).items()}
        ticket = Ticket(
            call_id=str(raw["call_id"]),
            role=Role(raw["role"]),
            direction=Direction(raw["direction"]),
            mode=Mode(raw["mode"]),
            customer_language=_optional_str(raw.get("customer_language")),
            agent_language=_optional_str(raw.get("agent_language")),
            expires_at=int(raw["expires_at"]),
            route=_optional_str(raw.get("route")),
            customer=_optional_str(raw.get("customer")),
            agent=_optional_str(raw.get("agent")),
            carrier_call_id=_optional_str(raw.get("carrier_call_id")),
            customer_carrier=_optional_str(raw.get("customer_carrier")),
            agent_carrier=_optional_str(raw.get("agent_carrier")),
        )
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        raise TicketError(f"malformed ticket: {exc!r}") from None
    if ticket.call_id != call_id:
        raise TicketError(f"ticket is for call {ticket.call_id}, not {call_id}")
    if ticket.expires_at < now:
        raise TicketError(f"ticket expired {int(now) - ticket.expires_at} s ago")
    return ticket


def _optional_str(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {type(value).__name__}")
