"""What the bridge owes Kallglot for each call: ending the session the call may have created.

A session bills from its first audio until it ends and holds one of the account's few
concurrent sessions, so "the call is over" is not the end of the bridge's duty: the session must
be confirmed ended. An obligation exists from the moment a create is about to be sent (its
outcome can be lost: a 5xx after Kallglot committed, a timeout) until Kallglot confirms the end
or is known never to have created anything. It is stored in the call records, so that it
survives the instance that owes it (see bridge/calls/session_ledger.py).

States only move forward (`RANK`); a record ranked lower than the stored one only fills gaps,
so writes from several places in any order converge, like call records do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class SessionState(StrEnum):
    CREATING = "creating"  # a create is about to be sent or under way: outcome not known yet
    OPEN = "open"  # the session exists and its call is live
    ENDING = "ending"  # the call is over; the end is not confirmed (the session id may be unknown)
    ENDED = "ended"  # Kallglot confirmed the end (or no longer knows the session)
    NOT_CREATED = "not_created"  # Kallglot refused the create: nothing exists
    ABANDONED = "abandoned"  # given up: a person must check (logged with what to do)


RANK = {
    SessionState.CREATING: 0,
    SessionState.OPEN: 1,
    SessionState.ENDING: 2,
    SessionState.ENDED: 3,
    SessionState.NOT_CREATED: 3,
    SessionState.ABANDONED: 3,
}
SETTLED_RANK = 3


def create_idempotency_key(call_id: str) -> str:
    """The key of a call's one session create, from whichever instance sends or replays it."""
    return f"{call_id}:create"


def end_idempotency_key(call_id: str) -> str:
    """The key of every request that ends a call's session: over the stream or REST, from the
    call's own instance or from one that adopted the obligation."""
    return f"{call_id}:end"


@dataclass(frozen=True, slots=True)
class SessionObligation:
    call_id: str
    state: SessionState
    owner: str  # the instance working on it; another adopts it if this one dies
    created_at: float  # unix seconds: when the create was first about to be sent
    updated_at: float
    # The exact JSON body of the create: replaying it with the same key is how an unknown
    # outcome is learnt (Kallglot answers a replay with the original response). None when the
    # obligation was recovered from a call record that only named its session.
    create_body: str | None = None
    session_id: str | None = None
    attempts: int = 0  # end (or replay) attempts made after the call was over
    last_error: str | None = None

    @property
    def rank(self) -> int:
        return RANK[self.state]

    @property
    def settled(self) -> bool:
        return self.rank >= SETTLED_RANK

    @property
    def create_key(self) -> str:
        return create_idempotency_key(self.call_id)

    def moved(self, state: SessionState, at: float, **changes: object) -> SessionObligation:
        return replace(self, state=state, updated_at=at, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Adoption:
    """An obligation this instance took over, and from whom (None: recovered from a record)."""

    obligation: SessionObligation
    previous_owner: str | None
