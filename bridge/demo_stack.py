"""The whole system on loopback for one demonstration: the Kallglot simulator, a carrier
simulator and the bridge, started together and stopped together. Used by `demo` (both kinds of
agent) and the playout soak (bench/soak.py)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bridge.config import Config
from bridge.sim.accounts import account_of
from bridge.sim.carrier_base import SimulatedCarrier
from bridge.sim.kallglot import KallglotSimulator
from bridge.web.app import create_app

CENTRE, AGENT, CUSTOMER = "+15550100001", "+15550100002", "+15550100003"
SECRET = "demo-secret-not-for-production-use-0123456789"

Carrier = SimulatedCarrier[Any]


@dataclass
class DemoStack:
    kallglot: KallglotSimulator
    kallglot_url: str
    carrier: Carrier
    app: web.Application
    url: str  # the bridge's


@asynccontextmanager
async def demo_stack(
    workdir: Path, routes: str, kallglot: KallglotSimulator, carrier: Carrier, port: int = 0
) -> AsyncIterator[DemoStack]:
    """Starts the simulators and a bridge (on `port`, or any free one) with `routes`, its
    records and routes file in `workdir`; stops them all on exit."""
    runners: list[web.AppRunner] = []

    async def serve(app: web.Application, listening: socket.socket | None = None) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.SockSite(runner, listening) if listening else web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    # Bound before anything else starts: the bridge's URL goes into its own configuration, and
    # a port merely probed could meanwhile be handed to one of our own connections.
    bridge_socket = socket.create_server(("127.0.0.1", port))

    try:
        kallglot_url = await serve(kallglot.app())
        carrier.api_url = await carrier.start()
        (workdir / "routes.toml").write_text(routes)
        bridge_port = bridge_socket.getsockname()[1]
        bridge_url = f"http://127.0.0.1:{bridge_port}"
        env = {
            "BRIDGE_PORT": str(bridge_port),
            "BRIDGE_SECRET": SECRET,
            "BRIDGE_ROUTES": str(workdir / "routes.toml"),
            "BRIDGE_DATABASE_URL": f"sqlite:///{workdir / 'calls.db'}",
            "KALLGLOT_API_URL": kallglot_url + "/v1",
            "KALLGLOT_API_KEY": kallglot.api_key,
        }
        app = create_app(Config.from_env(env | carrier_env(carrier, bridge_url)))
        await serve(app, bridge_socket)
        yield DemoStack(kallglot, kallglot_url, carrier, app, bridge_url)
    finally:
        await carrier.close()
        for runner in reversed(runners):
            await runner.cleanup()
        bridge_socket.close()


def carrier_env(carrier: Carrier, bridge_url: str) -> dict[str, str]:
    """The bridge's account settings for the simulated carrier (both parties are on it)."""
    return account_of(carrier).settings(carrier, bridge_url)
