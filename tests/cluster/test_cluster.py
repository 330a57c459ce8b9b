"""Three bridge processes behind nginx with PostgreSQL, on one machine, under load and a drain.

Twenty two-leg inbound calls go through nginx in two waves. Once the first ten are all talking,
the instance holding the most of them gets SIGTERM; the second ten then arrive while it drains.
Every call must be whole on one instance (its own logs say where each leg landed), every party
must get everything the other said, every call must end by the customer hanging up, the
drained instance must take no new call, finish its own and exit 0, and PostgreSQL must hold
the record of every call and leg, and every Kallglot webhook once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import asyncpg  # type: ignore[import-untyped]
import pytest

from bridge.store.migrations import MIGRATIONS
from tests.cluster.support import (
    CALLS,
    INSTANCES,
    SPEECH_BYTES,
    WAVE,
    Cluster,
    Outcome,
    connect_call,
    hang_up,
    poll,
    received,
    report,
    stop_gracefully,
)
from tests.e2e.conftest import mulaw


async def test_calls_stay_whole_on_one_instance_and_a_drain_drops_none(
    cluster: Cluster, customer_speech: bytes, agent_speech: bytes
) -> None:
    started = time.monotonic()
    said_by_customer = customer_speech[:SPEECH_BYTES]
    said_by_agent = agent_speech[:SPEECH_BYTES]
    release = asyncio.Event()  # the first wave hangs up once the second is talking

    async def run_call(outcome: Outcome, hold: bool) -> None:
        await connect_call(cluster, outcome, f"+1555040{outcome.index:04d}")
        customer, agent = outcome.customer, outcome.agent
        assert customer is not None
        assert agent is not None
        outcome.active_at = time.monotonic()
        outcome.active.set()
        outcome.step = "talking"
        customer.speak(said_by_customer)
        agent.speak(said_by_agent)
        await agent.wait_until(lambda: mulaw(said_by_customer) in received(agent))
        await customer.wait_until(lambda: mulaw(said_by_agent) in received(customer))
        outcome.step = "heard everything, holding" if hold else "heard everything"
        if hold:
            await release.wait()
        await hang_up(outcome)

    first = [Outcome(i) for i in range(WAVE)]
    second = [Outcome(i) for i in range(WAVE, CALLS)]
    everyone = first + second
    by_name = {b.name: b for b in cluster.bridges}
    phase = "first wave: setting up"
    try:
        async with asyncio.timeout(90):
            wave1 = [asyncio.create_task(run_call(o, hold=True)) for o in first]
            await asyncio.gather(*(o.active.wait() for o in first))

            phase = "draining one instance"
            load = Counter(o.instance for o in first)
            victim = by_name[load.most_common(1)[0][0]]
            victims_calls = {o.call_id for o in first if o.instance == victim.name}
            victim.terminate()
            sigterm_at = time.time()

            await poll(victim.draining, every_s=0.02)

            phase = "second wave: setting up"
            wave2 = [asyncio.create_task(run_call(o, hold=False)) for o in second]
            await asyncio.gather(*(o.active.wait() for o in second))
            phase = "both waves: talking and hanging up"
            release.set()
            await asyncio.gather(*wave1, *wave2)
            phase = f"waiting for {victim.name} to exit"
            assert await victim.wait_exit() == 0
            victim_exited_at = time.time()

            phase = "waiting for Kallglot's webhooks"
            await cluster.kallglot.webhooks.wait_settled(3 * CALLS)
            phase = "stopping the other instances"
            await stop_gracefully([b for b in cluster.bridges if b is not victim])
    except TimeoutError:
        pytest.fail(report(phase, everyone, cluster.bridges))

    # Every call is whole on one instance: both legs connected there and nowhere else.
    legs_at: dict[str, set[tuple[str, str]]] = {}
    for bridge in cluster.bridges:
        for event in bridge.events("leg_connected"):
            legs_at.setdefault(event["call_id"], set()).add((bridge.name, event["leg"]))
    for outcome in everyone:
        assert legs_at[outcome.call_id] == {
            (outcome.instance, "customer"),
            (outcome.instance, "agent"),
        }, outcome

    # The drained instance took no new call, finished its own, and only then exited.
    assert {o.call_id for o in second if o.instance == victim.name} == set()
    assert victims_calls, "the victim had live calls when it was told to stop"
    assert {o.instance for o in second} <= set(by_name) - {victim.name}
    assert victim.events("drained"), "it drained rather than being cut short"
    sent_elsewhere = victim.events("new_call_sent_elsewhere")

    # Nothing was dropped: every party got all the other said, every call ended by hang-up.
    for outcome in everyone:
        assert outcome.customer is not None
        assert outcome.agent is not None
        assert mulaw(said_by_agent) in received(outcome.customer)
        assert mulaw(said_by_customer) in received(outcome.agent)
        assert outcome.agent.api_updates == ["Status=completed"]  # the bridge hung it up

    # PostgreSQL holds every call, leg and webhook event.
    db = await asyncpg.connect(cluster.database_url)
    try:
        calls = {r["call_id"]: dict(r) for r in await db.fetch("SELECT * FROM calls")}
        legs = await db.fetch("SELECT * FROM call_legs")
        events = await db.fetch("SELECT event_id, type FROM kallglot_events")
        versions = [r[0] for r in await db.fetch("SELECT version FROM schema_version")]
        beating = {r[0] for r in await db.fetch("SELECT instance FROM instances")}
    finally:
        await db.close()
    assert sorted(versions) == [m.version for m in MIGRATIONS]  # migrated together, once
    assert {row["instance"] for row in calls.values()} <= beating  # every instance heartbeats
    assert set(calls) == {o.call_id for o in everyone}
    for outcome in everyone:
        row = calls[outcome.call_id]
        assert (row["state"], row["end_reason"], row["instance"]) == (
            "ended",
            "customer_hangup",
            outcome.instance,
        )
    assert len(legs) == 2 * CALLS
    assert all(leg["audio_in_s"] >= 2.0 and leg["audio_out_s"] >= 2.0 for leg in legs)
    assert all(leg["frames_lost"] == 0 for leg in legs)
    assert Counter(e["type"] for e in events) == {
        "session.created": CALLS,
        "session.ended": CALLS,
        "transcript.ready": CALLS,
    }
    assert all(d.delivered for d in cluster.kallglot.webhooks.deliveries)

    victim_done = max(calls[c]["ended_at"] for c in victims_calls)
    assert sigterm_at < victim_done < victim_exited_at  # its calls outlived the SIGTERM
    print(
        f"\ncluster: {CALLS} calls over {INSTANCES} instances "
        f"{dict(Counter(o.instance for o in everyone))}; drained {victim.name} "
        f"({len(victims_calls)} live calls at SIGTERM; its last call ended "
        f"{victim_done - sigterm_at:.1f} s later, it exited 0 after "
        f"{victim_exited_at - sigterm_at:.1f} s); requests it sent elsewhere while "
        f"draining: {len(sent_elsewhere)}; calls dropped: 0; records: {len(calls)} calls, "
        f"{len(legs)} legs, {len(events)} webhook events; {time.monotonic() - started:.1f} s"
    )
