"""The closed sets a call is described by: who, which way, how translated, how it ended."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A leg's party; also the `speaker` label Kallglot uses for that party's audio."""

    CUSTOMER = "customer"
    AGENT = "agent"

    @property
    def other(self) -> Role:
        return Role.AGENT if self is Role.CUSTOMER else Role.CUSTOMER


class Direction(StrEnum):
    INBOUND = "inbound"  # a customer dialled a call-centre number; the bridge dials the agent
    OUTBOUND = "outbound"  # an agent asked the bridge (API) to call a customer


class Mode(StrEnum):
    """Kallglot session modes the bridge can route audio for."""

    BIDIRECTIONAL = "bidirectional_translation"
    ASSISTIVE = "assistive_translation"


class CallState(StrEnum):
    RINGING = "ringing"  # created; waiting for the first leg's media stream
    BRIDGING = "bridging"  # a leg is up; Kallglot session and/or the other leg on their way
    ACTIVE = "active"  # audio flows
    ENDING = "ending"
    ENDED = "ended"


class EndReason(StrEnum):
    CUSTOMER_HANGUP = "customer_hangup"
    AGENT_HANGUP = "agent_hangup"
    AGENT_UNAVAILABLE = "agent_unavailable"  # busy, no answer, failed
    CUSTOMER_UNAVAILABLE = "customer_unavailable"
    API_HANGUP = "api_hangup"
    KALLGLOT_ENDED = "kallglot_ended"
    KALLGLOT_FAILED = "kallglot_failed"
    PROTOCOL_ERROR = "protocol_error"
    BRIDGE_FULL = "bridge_full"  # the first stream found no room (at BRIDGE_MAX_CALLS, draining)
    DRAIN_TIMEOUT = "drain_timeout"
    SHUTDOWN = "shutdown"
    # Set by the records' orphan sweep, never by a live call: the instance holding the call
    # stopped heartbeating (killed, host lost), so how the call really ended is unknown.
    INSTANCE_LOST = "instance_lost"

    @classmethod
    def hangup_by(cls, role: Role) -> EndReason:
        return cls.CUSTOMER_HANGUP if role is Role.CUSTOMER else cls.AGENT_HANGUP

    @classmethod
    def unavailable(cls, role: Role) -> EndReason:
        return cls.CUSTOMER_UNAVAILABLE if role is Role.CUSTOMER else cls.AGENT_UNAVAILABLE
