"""Outbound calls on a cluster, before the agent answers.

`POST /v1/calls` reaches any instance (there is no call id to hash on yet), while everything
about the call afterwards (the agent leg's status callbacks, `DELETE /v1/calls/{id}`) is hashed
on its id, usually to another instance. Whichever instance gets them must still cancel a
ringing dial and record an unanswered one.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bridge.sim.carrier import SimCall
from bridge.sim.softphone import Phone
from tests.cluster.support import API_TOKEN, INSTANCES, Cluster, stop_gracefully

DIALS = 6  # per kind: with three instances, most land away from their hash owner


def _agent(kind: str, i: int) -> str:
    return f"+1555{'06' if kind == 'ringing' else '07'}0{i:04d}"


async def _dial(cluster: Cluster, agent: str) -> dict[str, Any]:
    body = {"to": "+15550800000", "agent": agent}
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with cluster.http.post(f"{cluster.nginx.url}/v1/calls", json=body, headers=headers) as r:
        assert r.status == 201, await r.text()
        return dict(await r.json())


async def test_any_instance_cancels_a_ringing_dial_and_records_an_unanswered_one(
    cluster: Cluster,
) -> None:
    for i in range(DIALS):
        cluster.carrier.add_phone(_agent("ringing", i), Phone(ring_s=60))
        cluster.carrier.add_phone(_agent("unanswered", i), Phone(answer="no-answer", ring_s=0.3))
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with asyncio.timeout(40):
        ringing = [await _dial(cluster, _agent("ringing", i)) for i in range(DIALS)]
        unanswered = [await _dial(cluster, _agent("unanswered", i)) for i in range(DIALS)]
        phones: list[SimCall] = [
            await cluster.carrier.next_call(to=_agent("ringing", i)) for i in range(DIALS)
        ]
        cancelled = []
        for dial in ringing:
            url = f"{cluster.nginx.url}/v1/calls/{dial['call_id']}"
            async with cluster.http.delete(url, headers=headers) as r:
                assert r.status == 200, await r.text()
                cancelled.append(await r.json())
        for phone in phones:
            await phone.ended.wait()
        for i in range(DIALS):
            phone = await cluster.carrier.next_call(to=_agent("unanswered", i))
            await phone.ended.wait()
        await stop_gracefully(cluster.bridges)  # flushes every record

    db = await asyncpg.connect(cluster.database_url)
    try:
        rows = {r["call_id"]: dict(r) for r in await db.fetch("SELECT * FROM calls")}
    finally:
        await db.close()
    assert all(c["state"] == "ended" and c["end_reason"] == "api_hangup" for c in cancelled)
    # Hung up over the carrier's REST API while ringing: never answered, ended as canceled.
    assert [(p.api_updates, p.status) for p in phones] == [
        (["Status=completed"], "canceled")
    ] * DIALS
    for dial in ringing:
        assert (rows[dial["call_id"]]["state"], rows[dial["call_id"]]["end_reason"]) == (
            "ended",
            "api_hangup",
        )
    for dial in unanswered:
        row = rows[dial["call_id"]]
        assert (row["state"], row["end_reason"], row["error"]) == (
            "ended",
            "agent_unavailable",
            "no-answer",
        )
    elsewhere = Counter(
        event["event"]
        for bridge in cluster.bridges
        for event in bridge.events()
        if event.get("event") in ("outbound_call_cancelled", "outbound_call_unanswered")
        and rows[event["call_id"]]["instance"] != bridge.name
    )
    print(
        f"\n{2 * DIALS} outbound dials placed on {INSTANCES} instances "
        f"{dict(Counter(r['instance'] for r in rows.values()))}: {DIALS} cancelled while "
        f"ringing, {DIALS} unanswered, all recorded as ended; handled by an instance other "
        f"than the one that dialled: {dict(elsewhere)}"
    )


async def test_a_retried_dial_with_its_idempotency_key_dials_once_on_a_cluster(
    cluster: Cluster,
) -> None:
    # Keys are remembered per instance; nginx hashes POST /v1/calls on the key, so each retry
    # reaches the instance that answered first.
    agents = [f"+15550900{i:03d}" for i in range(DIALS)]
    for agent in agents:
        cluster.carrier.add_phone(agent, Phone(ring_s=60))
    answers = []
    async with asyncio.timeout(40):
        for i, agent in enumerate(agents):
            headers = {"Authorization": f"Bearer {API_TOKEN}", "Idempotency-Key": f"retry-{i}"}
            body = {"to": "+15550800000", "agent": agent}
            for _ in range(3):  # the client timed out twice and sent it again
                async with cluster.http.post(
                    f"{cluster.nginx.url}/v1/calls", json=body, headers=headers
                ) as r:
                    assert r.status == 201, await r.text()
                    answers.append((agent, (await r.json())["call_id"]))
        dialled = Counter(call.to for call in cluster.carrier.calls.values())
    assert len(set(answers)) == DIALS  # one call id per key, every time
    assert all(dialled[agent] == 1 for agent in agents)
