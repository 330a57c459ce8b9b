"""What the cluster test is made of: numbers and routes, the cluster's parts, each call's progress."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bridge.sim.carrier import CarrierSimulator, SimCall
from bridge.sim.kallglot import KallglotSimulator
from tests.cluster.bridges import BridgeProcess
from tests.cluster.nginx import Nginx

CALLS = 20
WAVE = 10
INSTANCES = 3
SPEECH_BYTES = 2 * 16000  # two seconds of 8 kHz PCM16 per party
SECRET = "cluster-test-secret-" + "x" * 20
API_TOKEN = "cluster-api-token-" + "c" * 32
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


async def connect_call(cluster: Cluster, outcome: Outcome, caller: str) -> dict[str, Any]:
    """Places call `outcome.index` through the balancer, until both legs stream and the call is
    live; fills in `outcome` and returns the call's record (GET /v1/calls/{id})."""
    i = outcome.index
    customer = await cluster.carrier.place_call(
        caller, centre(i), f"{cluster.nginx.url}/twilio/voice"
    )
    outcome.customer = customer
    await customer.stream_started.wait()
    outcome.call_id = call_id_of(customer.stream_parameters["ticket"])
    outcome.step = "customer streaming, waiting for the agent"
    agent = outcome.agent = await cluster.carrier.next_call(to=agent_number(i))
    await agent.stream_started.wait()
    outcome.step = "both streaming, waiting for active"
    record: dict[str, Any] = {}

    async def active() -> bool:
        record.update(await cluster.call(outcome.call_id))
        return record["state"] == "active"

    await poll(active, every_s=0.05)
    outcome.instance = record["instance"]
    return record


async def hang_up(outcome: Outcome) -> None:
    """The customer hangs up; returns once the bridge has ended the agent's leg too."""
    assert outcome.customer is not None
    assert outcome.agent is not None
    outcome.step = "hanging up"
    await outcome.customer.hang_up()
    await outcome.agent.ended.wait()
    outcome.step = "done"


async def stop_gracefully(bridges: list[BridgeProcess]) -> None:
    """SIGTERM each (a drain, which also flushes its records); each must exit 0."""
    for bridge in bridges:
        bridge.terminate()
        assert await bridge.wait_exit() == 0
