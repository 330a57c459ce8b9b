"""The cluster test: opt-in, because it starts PostgreSQL, nginx and three bridge processes.

`make test` (a plain `pytest`) leaves this directory out; it is collected only when named on
the command line, as `make test-cluster` does (`pytest tests/cluster`). Its dependencies skip
with a reason when missing, except under CI (`CI=true`), where a skip would hide a gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bridge.sim.carrier import CarrierSimulator
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.softphone import Phone
from tests.cluster.bridges import BridgeProcess
from tests.cluster.nginx import Nginx, nginx_binary
from tests.cluster.support import (
    API_TOKEN,
    CALLS,
    INSTANCES,
    SECRET,
    WEBHOOK_SECRET,
    Cluster,
    agent_number,
    routes,
)
from tests.ports import port_for_a_process
from tests.store.pg import PostgresServer, postgres_server, skip_or_fail

__all__ = ["postgres_server"]  # the session fixture the cluster fixture uses

HERE = Path(__file__).resolve().parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    for arg in config.args:
        named = (config.invocation_params.dir / str(arg).split("::")[0]).resolve()
        if named == HERE or HERE in named.parents:
            return None
    return True


@pytest.fixture
def cluster_env() -> dict[str, str]:
    """Extra settings for every bridge of the cluster (a test module overrides this fixture)."""
    return {}


@pytest.fixture
async def cluster(
    postgres_server: PostgresServer,
    tmp_path: Path,
    aiohttp_server: Any,
    cluster_env: dict[str, str],
) -> AsyncIterator[Cluster]:
    binary = nginx_binary()
    if binary is None:
        skip_or_fail("nginx is not installed (apt-get install nginx)")
        raise AssertionError("unreachable")
    database_url = await postgres_server.create_database()
    nginx_port = port_for_a_process()
    ports = [port_for_a_process() for _ in range(INSTANCES)]
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
        **cluster_env,
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
