from __future__ import annotations

import dataclasses

import pytest

from bridge.calls.model import Direction, Mode, Role
from bridge.calls.tickets import Ticket, TicketError, issue, verify

SECRET = b"s" * 32
TICKET = Ticket(
    call_id="call_1234567890abcdef",
    role=Role.AGENT,
    direction=Direction.INBOUND,
    mode=Mode.BIDIRECTIONAL,
    customer_language="de",
    agent_language="en",
    expires_at=1_000_100,
    route="+15550100001",
    agent="sip:agent-42@pbx.example.com",
)


def test_a_genuine_ticket_round_trips_and_fits_a_twilio_parameter() -> None:
    token = issue(TICKET, SECRET)
    assert len(token) < 400  # Twilio allows about 500 characters per custom parameter
    assert verify(token, SECRET, call_id=TICKET.call_id, now=1_000_000) == TICKET


def test_optional_fields_may_be_absent() -> None:
    bare = dataclasses.replace(TICKET, customer_language=None, route=None, agent=None)
    assert verify(issue(bare, SECRET), SECRET, call_id=bare.call_id, now=0) == bare


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda t: None, "no ticket"),
        (lambda t: t + "x", "forged"),
        (lambda t: "e30" + t[3:], "forged"),  # body swapped, signature kept
        (lambda t: issue(TICKET, b"other-secret" * 3), "forged"),
        (lambda t: t.split(".")[0], "forged"),
        (lambda t: "!!!.@@@", "forged"),
    ],
)
def test_forged_tickets_are_refused(mutate, reason) -> None:
    with pytest.raises(TicketError, match=reason):
        verify(mutate(issue(TICKET, SECRET)), SECRET, call_id=TICKET.call_id, now=1_000_000)


def test_a_ticket_for_another_call_is_refused() -> None:
    with pytest.raises(TicketError, match="not call_other"):
        verify(issue(TICKET, SECRET), SECRET, call_id="call_other", now=1_000_000)


def test_an_expired_ticket_is_refused() -> None:
    with pytest.raises(TicketError, match="expired 5 s ago"):
        verify(issue(TICKET, SECRET), SECRET, call_id=TICKET.call_id, now=1_000_105)


def test_a_genuinely_signed_but_malformed_ticket_is_refused_not_crashed() -> None:
    import base64
    import hashlib
    import hmac

    body = (
        base64.urlsafe_b64encode(b'{"c":"call_1234567890abcdef","r":"boss"}').rstrip(b"=").decode()
    )
    mac = hmac.new(SECRET, body.encode(), hashlib.sha256).digest()
    token = body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(TicketError, match="malformed"):
        verify(token, SECRET, call_id=TICKET.call_id, now=0)
