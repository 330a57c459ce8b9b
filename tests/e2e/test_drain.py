"""SIGTERM or Ctrl-C on a real `python -m bridge serve` process with a call in flight.

The bridge stops taking calls (not ready; new callers hear the polite message), keeps the live
call running until it ends or BRIDGE_DRAIN_TIMEOUT passes, then ends what is left cleanly and
exits 0. A second signal ends the live calls at once, as cleanly (apology, Kallglot session
ended, reason `shutdown`), and the log stays JSON throughout.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.softphone import Phone
from tests.e2e.carriers import CARRIERS, Party, Sims, apology, control, speaks
from tests.e2e.conftest import (
    AGENT,
    API_TOKEN,
    CENTRE,
    CUSTOMER,
    ROUTES,
    SECRET,
    mulaw,
    wait_received,
)
from tests.ports import port_for_a_process

SECOND = 16000
pytestmark = pytest.mark.parametrize("carrier_name", CARRIERS)
BUSY = "We are closing for maintenance. Please call again in a minute."


class BridgeProcess:
    """`python -m bridge serve` with JSON logs read line by line, so tests await log events."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []  # stderr lines that were not JSON
        self._changed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.raw.append(line.decode(errors="replace").rstrip())
                self.events.append({"event": self.raw[-1]})
            self._changed.set()

    async def exited(self) -> int:
        """The exit status, once stderr is read to its end."""
        await self._reader
        return await self.process.wait()

    async def logged(
        self, event: str, where: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        while True:
            for entry in self.events:
                if entry.get("event") == event and where(entry):
                    return entry
            if self._reader.done():
                raise AssertionError(
                    f"the bridge exited without logging {event!r}: {self.events[-5:]}"
                )
            self._changed.clear()
            await self._changed.wait()


@dataclass
class Bridge:
    process: BridgeProcess
    kallglot: KallglotSimulator
    sims: Sims
    carrier_name: str
    url: str

    @property
    def carrier(self) -> Any:
        return self.sims.of(self.carrier_name)

    async def call_in(self) -> Party:
        return await self.sims.call_in(self.carrier_name, self.url, CUSTOMER, CENTRE)


@pytest.fixture
async def bridge_process(
    aiohttp_server: Any,
    tmp_path: Path,
    carrier_name: str,
) -> AsyncIterator[Callable[..., Any]]:
    started: list[Bridge] = []

    async def start(**env_overrides: str) -> Bridge:
        kallglot = KallglotSimulator(translation_delay_s=0.1)
        kallglot_server = await aiohttp_server(kallglot.app())
        sims = await Sims.serve(aiohttp_server)
        (tmp_path / "routes.toml").write_text(ROUTES)
        port = port_for_a_process()
        url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "BRIDGE_PORT": str(port),
            "BRIDGE_PUBLIC_URL": url,
            "BRIDGE_SECRET": SECRET,
            "BRIDGE_API_TOKEN": API_TOKEN,
            "BRIDGE_ROUTES": str(tmp_path / "routes.toml"),
            "BRIDGE_BUSY_MESSAGE": BUSY,
            "BRIDGE_LOG_JSON": "true",
            "BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.db'}",
            "KALLGLOT_API_URL": str(kallglot_server.make_url("/v1")),
            "KALLGLOT_API_KEY": kallglot.api_key,
            **sims.env(url),
            **env_overrides,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", "serve", env=env, stderr=asyncio.subprocess.PIPE
        )
        bridge = Bridge(BridgeProcess(process), kallglot, sims, carrier_name, url)
        started.append(bridge)
        await bridge.process.logged("bridge_listening")
        return bridge

    yield start
    for bridge in started:
        if bridge.process.process.returncode is None:
            bridge.process.process.kill()
            await bridge.process.process.wait()
        await bridge.sims.close()


async def test_sigterm_lets_the_live_call_finish_refuses_new_ones_and_exits_0(
    bridge_process: Callable[..., Any], customer_speech: bytes, agent_speech: bytes
) -> None:
    started = await bridge_process()
    bridge, kallglot, url = started.process, started.kallglot, started.url
    started.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    async with asyncio.timeout(40), aiohttp.ClientSession() as http:
        customer = await started.call_in()
        agent = await started.carrier.next_call(to=AGENT)
        await bridge.logged("call_active")
        bridge.process.send_signal(signal.SIGTERM)
        await bridge.logged("draining")

        async with http.get(url + "/readyz") as response:
            assert response.status == 503
            assert (await response.json())["reason"] == "draining"
        latecomer = await started.call_in()
        if speaks(started.carrier_name):  # else the flow's own failure branch answers it
            await latecomer.wait_said(BUSY)
        await latecomer.ended.wait()

        # The live call is untouched: both ways, whole and in order.
        customer.speak(customer_speech[:SECOND])
        agent.speak(agent_speech[:SECOND])
        await wait_received(agent, mulaw(customer_speech[:SECOND]))
        await wait_received(customer, mulaw(agent_speech[:SECOND]))
        await customer.hang_up()
        assert await bridge.process.wait() == 0

    summary = await bridge.logged("call_summary")
    assert summary["end_reason"] == "customer_hangup"
    assert not latecomer.stream_sids  # the latecomer never reached a media stream
    assert not latecomer.stream_started.is_set()
    (session,) = kallglot.sessions.values()
    assert session.ended_transitions == 1


async def test_sigterm_ends_calls_still_live_at_the_drain_timeout_cleanly(
    bridge_process: Callable[..., Any],
) -> None:
    started = await bridge_process(BRIDGE_DRAIN_TIMEOUT="0.5")
    bridge, kallglot = started.process, started.kallglot
    started.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    async with asyncio.timeout(40):
        customer = await started.call_in()
        agent = await started.carrier.next_call(to=AGENT)
        await bridge.logged("call_active")
        bridge.process.send_signal(signal.SIGTERM)
        assert await bridge.process.wait() == 0
        await customer.ended.wait()
        await agent.ended.wait()

    summary = await bridge.logged("call_summary")
    assert summary["end_reason"] == "drain_timeout"
    assert control(customer) == control(agent) == ["hang_up"]
    (session,) = kallglot.sessions.values()
    assert session.ended_transitions == 1


APOLOGY = "Leider ist niemand erreichbar."  # the CENTRE route's


async def test_a_second_ctrl_c_ends_the_live_call_now_cleanly_and_exits_0(
    bridge_process: Callable[..., Any],
) -> None:
    started = await bridge_process()
    bridge, kallglot = started.process, started.kallglot
    started.carrier.add_phone(AGENT, Phone(ring_s=0.1))
    async with asyncio.timeout(40):
        customer = await started.call_in()
        agent = await started.carrier.next_call(to=AGENT)
        await bridge.logged("call_active")
        bridge.process.send_signal(signal.SIGINT)
        draining = await bridge.logged("draining")
        assert bridge.process.returncode is None  # the first Ctrl-C waits for the call
        bridge.process.send_signal(signal.SIGINT)
        if speaks(started.carrier_name):
            await customer.wait_said(APOLOGY)
            await agent.wait_said(APOLOGY)
        assert await bridge.exited() == 0
        await customer.ended.wait()
        await agent.ended.wait()

    assert draining["live_calls"] == 1
    assert draining["timeout_s"] == 3600
    assert "BRIDGE_DRAIN_TIMEOUT" in draining["message"]
    assert "Ctrl-C again" in draining["message"]
    summary = await bridge.logged("call_summary")
    assert summary["end_reason"] == "shutdown"
    # The apology, then the end.
    assert control(customer) == control(agent) == apology(started.carrier_name)
    (session,) = kallglot.sessions.values()
    assert session.ended_transitions == 1
    assert bridge.raw == []  # no traceback or other stray text in the JSON stream
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", entry["event"]) for entry in bridge.events)
    assert not [entry for entry in bridge.events if entry["level"] in ("error", "critical")]
