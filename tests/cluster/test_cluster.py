"""Three bridge processes behind nginx with PostgreSQL, on one machine, under load and a drain.

Twenty two-leg inbound calls go through nginx in two waves. Once the first ten are all talking,
the instance holding the most of them gets SIGTERM; the second ten then arrive while it drains.
Every call must be whole on one instance (its own logs say where each leg landed), every party
must hear everything the other said, every call must end by the customer hanging up, the
drained instance must take no new call, finish its own and exit 0, and PostgreSQL must hold
the record of every call and leg, and every Kallglot webhook once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest

from bridge.sim.carrier import CarrierSimulator, SimCall
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.softphone import Phone
from tests.cluster.bridges import BridgeProcess
from tests.cluster.nginx import Nginx, nginx_binary
from tests.e2e.conftest import mulaw
from tests.store.pg import PostgresServer, free_port, skip_or_fail

CALLS = 20
WAVE = 10
INSTANCES = 3
SPEECH_BYTES = 2 * 16000  # two seconds of 8 kHz PCM16 per party
SECRET = "cluster-test-secret-" + "x" * 20
API_TOKEN = "cluster-api-token"
WEBHOOK_SECRET = "whsec_cluster"


def centre(i: int) -> str:
    return f"+1555020{i:04d}"


def agent_number(i: int) -> str:
    return f"+1555030{i:04d}"


def routes() -> str:
    return "".join(
        f'[routes."{centre(i)}"]\nagent = "{agent_number(i)}"\n'
        'customer_language = "de"\nagent_language = "en"\n\n'
        for i in range(CALLS)
    )


def received(party: SimCall) -> bytes:
    """Everything the bridge sent the party, in order. (What the party's loudspeaker played
    also has silence wherever a frame arrived late, which on a loaded machine happens.)"""
    return b"".join(media.payload for media in party.media_received)


def report(phase: str, outcomes: list[Outcome], bridges: list[BridgeProcess]) -> str:
    """What every call and instance was doing: the failure message of a timed-out run."""
    lines = [f"timed out during: {phase}"]
    for o in outcomes:
        customer, agent = o.customer, o.agent
        lines.append(
            f"  call {o.index} {o.call_id} on {o.instance or '?'}: {o.step}; customer "
            f"{customer.status if customer else '-'} got {customer.received_bytes if customer else 0}"
            f", agent {agent.status if agent else '-'} got {agent.received_bytes if agent else 0}"
        )
    for bridge in bridges:
        code = bridge.process.returncode if bridge.process else None
        lines.append(f"  {bridge.name} (exit {code}) last lines:")
        lines += ["    " + line for line in bridge.log.read_text().splitlines()[-8:]]
    return "\n".join(lines)


def call_id_of(ticket: str) -> str:
    """The call id inside a stream's ticket (its body is base64url JSON; "c" is the call)."""
    body = ticket.partition(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["c"])


async def poll(check: Callable[[], Awaitable[bool]], every_s: float) -> None:
    """Another process's state can only be asked for, so ask until the answer is yes."""
    while True:
        if await check():
            return
        await asyncio.sleep(every_s)


@dataclass
class Cluster:
    nginx: Nginx
    bridges: list[BridgeProcess]
    kallglot: KallglotSimulator
    carrier: CarrierSimulator
    database_url: str
    http: aiohttp.ClientSession

    async def call(self, call_id: str) -> dict[str, Any]:
        """GET /v1/calls/{id} through nginx (hashed to the instance holding the call)."""
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with self.http.get(f"{self.nginx.url}/v1/calls/{call_id}", headers=headers) as r:
            assert r.status == 200, await r.text()
            return dict(await r.json())


@dataclass
class Outcome:
    index: int
    step: str = "placing"  # how far the call got (for the report if the test times out)
    call_id: str = ""
    instance: str = ""
    active_at: float = 0.0
    customer: SimCall | None = None
    agent: SimCall | None = None
    active: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def cluster(
    postgres_server: PostgresServer, tmp_path: Path, aiohttp_server: Any
) -> AsyncIterator[Cluster]:
    binary = nginx_binary()
    if binary is None:
        skip_or_fail("nginx is not installed (apt-get install nginx)")
        raise AssertionError("unreachable")
    database_url = await postgres_server.create_database()
    nginx_port = free_port()
    ports = [free_port() for _ in range(INSTANCES)]
    nginx = Nginx(binary, tmp_path / "nginx", nginx_port, [f"127.0.0.1:{p}" for p in ports])

    kallglot = KallglotSimulator(
        translation_delay_s=0.1,
        webhook_url=f"{nginx.url}/kallglot/webhooks",
        webhook_secret=WEBHOOK_SECRET,
        webhook_retry_delays=(0.5, 1.0, 2.0),
    )
    kallglot_server = await aiohttp_server(kallglot.app())
    carrier = CarrierSimulator()
    for i in range(CALLS):
        carrier.add_phone(agent_number(i), Phone(ring_s=0.1))
    carrier_url = await carrier.start()
    route_file = tmp_path / "routes.toml"
    route_file.write_text(routes())
    env = {
        "BRIDGE_HOST": "127.0.0.1",
        "BRIDGE_PUBLIC_URL": nginx.url,
        "BRIDGE_SECRET": SECRET,
        "BRIDGE_API_TOKEN": API_TOKEN,
        "BRIDGE_ROUTES": str(route_file),
        "BRIDGE_DATABASE_URL": database_url,
        "BRIDGE_RING_TIMEOUT_S": "10",
        "BRIDGE_DRAIN_TIMEOUT": "120",  # far beyond the test: a drain must end by hang-ups
        "BRIDGE_LOG_JSON": "true",
        "KALLGLOT_API_URL": str(kallglot_server.make_url("/v1")),
        "KALLGLOT_API_KEY": kallglot.api_key,
        "KALLGLOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TWILIO_ACCOUNT_SID": carrier.account_sid,
        "TWILIO_AUTH_TOKEN": carrier.auth_token,
        "TWILIO_CALLER_ID": "+15550100000",
        "TWILIO_API_URL": carrier_url,
    }
    bridges = [
        BridgeProcess(f"bridge-{n}", port, env, tmp_path / f"bridge-{n}.log")
        for n, port in enumerate(ports, 1)
    ]
    try:
        # All three migrate the same empty database at once (the advisory lock's job).
        await asyncio.gather(*(b.start() for b in bridges))
        await nginx.start()
        async with aiohttp.ClientSession() as http:
            yield Cluster(nginx, bridges, kallglot, carrier, database_url, http)
    finally:
        await carrier.close()
        await nginx.stop()
        for bridge in bridges:
            await bridge.kill()


async def test_calls_stay_whole_on_one_instance_and_a_drain_drops_none(
    cluster: Cluster, customer_speech: bytes, agent_speech: bytes
) -> None:
    started = time.monotonic()
    said_by_customer = customer_speech[:SPEECH_BYTES]
    said_by_agent = agent_speech[:SPEECH_BYTES]
    release = asyncio.Event()  # the first wave hangs up once the second is talking

    async def run_call(outcome: Outcome, hold: bool) -> None:
        i = outcome.index
        customer = await cluster.carrier.place_call(
            f"+1555040{i:04d}", centre(i), f"{cluster.nginx.url}/twilio/voice"
        )
        outcome.customer = customer
        await customer.stream_started.wait()
        outcome.call_id = call_id_of(customer.stream_parameters["ticket"])
        outcome.step = "customer streaming, waiting for the agent"
        agent = await cluster.carrier.next_call(to=agent_number(i))
        outcome.agent = agent
        await agent.stream_started.wait()
        outcome.step = "both streaming, waiting for active"
        record: dict[str, Any] = {}

        async def active() -> bool:
            record.update(await cluster.call(outcome.call_id))
            return record["state"] == "active"

        await poll(active, every_s=0.05)
        outcome.instance, outcome.active_at = record["instance"], time.monotonic()
        outcome.active.set()
        outcome.step = "talking"
        customer.speak(said_by_customer)
        agent.speak(said_by_agent)
        await agent.wait_until(lambda: mulaw(said_by_customer) in received(agent))
        await customer.wait_until(lambda: mulaw(said_by_agent) in received(customer))
        outcome.step = "heard everything, holding" if hold else "heard everything"
        if hold:
            await release.wait()
        outcome.step = "hanging up"
        await customer.hang_up()
        await agent.ended.wait()
        outcome.step = "done"

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
            for bridge in cluster.bridges:
                if bridge is not victim:
                    bridge.terminate()
                    assert await bridge.wait_exit() == 0
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
    finally:
        await db.close()
    assert sorted(versions) == [1, 2]  # three instances migrated together, once
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
