"""Session obligations and stream claims in the store, on both databases: writes merge by rank,
adoption takes exactly what nobody works on, a ticket's leg is claimed once."""

from __future__ import annotations

import asyncio
import time

from bridge.calls.obligations import SessionObligation, SessionState
from bridge.store.base import Store
from tests.store.support import a_call

ME, PEER, DEAD = "i-me", "i-peer", "i-dead"
SILENCE = 120.0


def owed(n: int, state: SessionState, owner: str, at: float, **fields: object) -> SessionObligation:
    return SessionObligation(f"call_{n:04d}", state, owner, at, at, **fields)  # type: ignore[arg-type]


async def test_writes_only_move_an_obligation_forward_and_fill_its_gaps(store: Store) -> None:
    now = time.time()
    creating = owed(1, SessionState.CREATING, ME, now, create_body='{"mode":"m"}')
    opened = creating.moved(SessionState.OPEN, now + 1, session_id="sess_1")
    ending = opened.moved(SessionState.ENDING, now + 2, attempts=1, last_error="HTTP 503")
    # Out of order, as a queued write and a direct one may land.
    await store.save_sessions([ending])
    await store.save_sessions([creating])
    await store.save_sessions([opened])

    assert await store.get_session("call_0001") == ending  # body and id kept from before
    ended = ending.moved(SessionState.ENDED, now + 3, attempts=2)
    await store.save_sessions([ended, ending])
    assert await store.get_session("call_0001") == ended


async def test_adoption_takes_the_dead_owners_and_the_ownerless_and_spares_the_living(
    store: Store,
) -> None:
    now = time.time()
    old = now - 600
    await store.heartbeat(ME, now)
    await store.heartbeat(PEER, now)
    await store.heartbeat(DEAD, old)
    await store.save_sessions(
        [
            owed(1, SessionState.OPEN, DEAD, old, session_id="sess_1"),  # live call, owner died
            owed(2, SessionState.ENDING, DEAD, old, session_id="sess_2"),
            owed(3, SessionState.ENDED, DEAD, old, session_id="sess_3"),  # settled: left alone
            owed(4, SessionState.ENDING, PEER, old, session_id="sess_4"),  # owner alive
            owed(5, SessionState.CREATING, DEAD, now),  # touched just now: not yet an orphan
            owed(6, SessionState.OPEN, ME, old, session_id="sess_6"),  # this instance's own
        ]
    )
    # An orphaned call naming a session, from an instance that heartbeated: an ownerless
    # obligation is recovered for it in the sweep's own transaction.
    await store.save_calls([a_call(7, state="active", instance=DEAD, session_id="sess_7")])
    later = now + 1
    orphans = await store.end_orphans(later + SILENCE, later)
    assert [o.call_id for o in orphans] == ["call_0007"]

    adopted = await store.adopt_sessions(ME, later, now - SILENCE, own=False)

    taken = {a.obligation.call_id: a for a in adopted}
    assert sorted(taken) == ["call_0001", "call_0002", "call_0007"]
    assert {a.previous_owner for a in adopted} == {DEAD, None}
    for adoption in adopted:
        assert adoption.obligation.owner == ME
        assert adoption.obligation.state is SessionState.ENDING  # its call is gone
    assert taken["call_0007"].obligation.session_id == "sess_7"
    assert await store.adopt_sessions(PEER, later, now - SILENCE, own=False) == []
    # At start-up an instance takes back what its previous life left (all of it is its own).
    restarted = await store.adopt_sessions(ME, later, now - SILENCE, own=True)
    assert sorted(a.obligation.call_id for a in restarted) == [
        "call_0001",
        "call_0002",
        "call_0006",
        "call_0007",
    ]
    assert {a.previous_owner for a in restarted} == {ME}


async def test_instances_adopting_together_take_each_obligation_once(store: Store) -> None:
    now = time.time()
    await store.heartbeat(DEAD, now - 600)
    await store.save_sessions(
        [owed(n, SessionState.ENDING, DEAD, now - 600, session_id=f"sess_{n}") for n in range(40)]
    )
    instances = [f"i-{k}" for k in range(5)]
    for instance in instances:
        await store.heartbeat(instance, now)

    rounds = await asyncio.gather(
        *(store.adopt_sessions(i, now, now - SILENCE, own=False) for i in instances)
    )

    taken = [a.obligation.call_id for adopted in rounds for a in adopted]
    assert sorted(taken) == sorted(f"call_{n:04d}" for n in range(40))


async def test_no_leg_of_a_call_that_has_ended_is_claimed(store: Store) -> None:
    """A party answering a dial after the call ended brings a ticket nobody used."""
    now = time.time()
    await store.save_calls([a_call(7, state="active")])
    assert await store.claim_stream("call_0007", "customer", ME, "MZ1", now)
    await store.save_calls([a_call(7)])  # ended
    assert not await store.claim_stream("call_0007", "agent", PEER, "MZ2", now)


async def test_a_stream_claim_is_granted_once_and_forgotten_after_its_time(store: Store) -> None:
    now = time.time()
    assert await store.claim_stream("call_1", "customer", ME, "MZ1", now)
    assert not await store.claim_stream("call_1", "customer", PEER, "MZ2", now)
    assert await store.claim_stream("call_1", "agent", PEER, "MZ3", now)
    await store.prune_claims(now - 1)
    assert not await store.claim_stream("call_1", "customer", PEER, "MZ2", now)
    await store.prune_claims(now + 1)
    assert await store.claim_stream("call_1", "customer", PEER, "MZ2", now)
