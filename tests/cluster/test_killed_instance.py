"""An instance killed outright (SIGKILL: no drain, no goodbye) with calls on it.

The survivors must notice from its silent heartbeat, end its calls' records as `instance_lost`
and end their Kallglot sessions (each exactly once, whichever survivor's sweep found it),
while their own calls go on untouched and end normally.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import asyncpg  # type: ignore[import-untyped]
import pytest

from bridge.store.liveness import BEATS_PER_SILENCE
from tests.cluster.support import (
    Cluster,
    Outcome,
    connect_call,
    hang_up,
    received,
    report,
    stop_gracefully,
)
from tests.e2e.conftest import mulaw

CALLS = 9
ORPHAN_AFTER_S = 3.0  # silence that makes an instance count as gone (it beats 4x as often)


@pytest.fixture
def cluster_env() -> dict[str, str]:
    return {"BRIDGE_ORPHAN_AFTER_S": str(ORPHAN_AFTER_S)}


async def test_a_killed_instances_sessions_are_ended_by_the_survivors(
    cluster: Cluster, customer_speech: bytes
) -> None:
    said = customer_speech[:8000]  # half a second
    sessions: dict[str, str] = {}  # call id -> Kallglot session id
    release = asyncio.Event()  # the survivors hang up once the victim's sessions are ended

    async def run_call(outcome: Outcome) -> None:
        record = await connect_call(cluster, outcome, f"+1555050{outcome.index:04d}")
        sessions[outcome.call_id] = record["session_id"]
        customer, agent = outcome.customer, outcome.agent
        assert customer is not None
        assert agent is not None
        customer.speak(said)
        await agent.wait_until(lambda: mulaw(said) in received(agent))
        outcome.step = "talking"
        outcome.active.set()
        await release.wait()
        await hang_up(outcome)

    everyone = [Outcome(i) for i in range(CALLS)]
    by_name = {b.name: b for b in cluster.bridges}
    phase = "setting up calls"
    try:
        async with asyncio.timeout(60):
            calls = [asyncio.create_task(run_call(o)) for o in everyone]
            await asyncio.gather(*(o.active.wait() for o in everyone))

            phase = "killing the busiest instance"
            victim = by_name[Counter(o.instance for o in everyone).most_common(1)[0][0]]
            lost = [o for o in everyone if o.instance == victim.name]
            kept = [o for o in everyone if o.instance != victim.name]
            await victim.kill()
            killed_at = time.monotonic()

            phase = "waiting for the survivors to end the victim's sessions"
            for outcome in lost:
                await cluster.kallglot.sessions[sessions[outcome.call_id]].wait_ended()
            noticed_s = time.monotonic() - killed_at

            phase = "hanging up the survivors' calls"
            for outcome in lost:  # nobody is left to hear them: they stop waiting
                calls[outcome.index].cancel()
            release.set()
            await asyncio.gather(*(calls[o.index] for o in kept))
            phase = "stopping the survivors (which flushes their records)"
            await stop_gracefully([b for b in cluster.bridges if b is not victim])
    except TimeoutError:
        pytest.fail(report(phase, everyone, cluster.bridges))

    assert lost, "the victim had live calls when it was killed"
    assert kept, "the survivors had live calls of their own"
    # Not before its silence was long enough (its last beat came up to one interval before).
    assert noticed_s >= ORPHAN_AFTER_S * (1 - 1 / BEATS_PER_SILENCE)
    for outcome in lost:
        session = cluster.kallglot.sessions[sessions[outcome.call_id]]
        assert session.ended_transitions == 1
        assert session.end_reason == "api_request"  # a REST end, from a survivor
    for outcome in kept:
        session = cluster.kallglot.sessions[sessions[outcome.call_id]]
        assert session.ended_transitions == 1  # by its own instance, when the call ended

    # Each lost session was adopted and ended by exactly one survivor, as its log says.
    survivors = [bridge for bridge in cluster.bridges if bridge is not victim]
    adopted = Counter(
        (event["call_id"], event["previous_owner"])
        for bridge in survivors
        for event in bridge.events("kallglot_session_adopted")
    )
    assert adopted == {(o.call_id, victim.name): 1 for o in lost}
    ended_by = Counter(
        event["call_id"]
        for bridge in survivors
        for event in bridge.events("kallglot_session_end_confirmed")
    )
    assert ended_by == {o.call_id: 1 for o in lost}

    db = await asyncpg.connect(cluster.database_url)
    try:
        rows = {r["call_id"]: dict(r) for r in await db.fetch("SELECT * FROM calls")}
    finally:
        await db.close()
    for outcome in lost:
        assert (rows[outcome.call_id]["state"], rows[outcome.call_id]["end_reason"]) == (
            "ended",
            "instance_lost",
        )
    for outcome in kept:
        assert rows[outcome.call_id]["end_reason"] == "customer_hangup"
    print(
        f"\nkilled {victim.name} with {len(lost)} live calls (of {CALLS}); the survivors ended "
        f"their Kallglot sessions {noticed_s:.1f} s later (silence threshold "
        f"{ORPHAN_AFTER_S:g} s); their own {len(kept)} calls ended by hang-up"
    )
