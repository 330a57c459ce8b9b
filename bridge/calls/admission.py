"""Whether a media stream with a genuine ticket may become its call's leg, and the record of a
call refused at the door.

A ticket is good for one stream. The first stream to present it claims its leg: here at once
(so a second stream for a live leg is refused, and the genuine one keeps it), and in the call
records (so another instance, or this one after a restart, refuses it too). A call that has
ended is never rebuilt, and its record never rewritten, neither from a replayed ticket nor from
one never used: a party who answers a dial after the others hung up (the records refuse claims
for a call they hold as ended, and the instance it ended on remembers it). When the records
cannot be reached, the claim here stands alone: the call goes ahead, and the gap is logged.
Where the ticket binds a carrier call, the stream must be for that call: a stream that names
another caller's call is never attached (and so can never hang that caller up).
"""

from __future__ import annotations

from typing import Protocol

from bridge.calls.call import Call
from bridge.calls.model import CallState, Direction, EndReason
from bridge.calls.refusals import CarrierCallMismatch, TicketUsed
from bridge.calls.registry import CallRegistry
from bridge.calls.summary import CallSummary, LegSummary
from bridge.calls.tickets import Ticket


class StreamClaims(Protocol):
    async def claim_stream(self, call_id: str, role: str, stream_id: str) -> bool | None:
        """False when another stream claimed this leg before; None when that is unknown
        (the records are unreachable)."""


async def admit(
    registry: CallRegistry,
    claims: StreamClaims,
    ticket: Ticket,
    *,
    carrier: str,
    stream_id: str,
    carrier_call_id: str,
) -> Call:
    """The call this stream joins (created if it is the first leg); raises StreamRefused.

    The carrier call is checked before the ticket counts as used: a stream for the wrong call
    must not spend the ticket the right one will bring."""
    expected = ticket.carrier_call_id
    call = registry.get(ticket.call_id)
    if expected is None and call is not None:  # a leg the call dialled itself
        expected = await call.carrier_call_for(ticket.role)
    if expected not in (None, carrier_call_id):
        raise CarrierCallMismatch(
            f"the stream is for carrier call {carrier_call_id}, its leg is {expected}"
        )
    registry.use_ticket(ticket)
    if await claims.claim_stream(ticket.call_id, ticket.role.value, stream_id) is False:
        raise TicketUsed(
            f"the {ticket.role.value} leg's ticket was used before, or its call has ended (on "
            "another instance, or before a restart)"
        )
    return registry.get_or_create(ticket, carrier)


def refusal_summary(
    ticket: Ticket, reason: EndReason, detail: str, carrier: str, carrier_call_id: str, at: float
) -> CallSummary:
    """The record of a call that ended at its first stream."""
    return CallSummary(
        call_id=ticket.call_id,
        state=CallState.ENDED.value,
        direction=ticket.direction.value,
        mode=ticket.mode.value,
        created_at=at,
        customer_language=ticket.customer_language,
        agent_language=ticket.agent_language,
        ended_at=at,
        end_reason=reason.value,
        error=detail,
        legs={ticket.role.value: LegSummary(carrier, carrier_call_id)},
        route=ticket.route if ticket.direction is Direction.INBOUND else None,
    )
