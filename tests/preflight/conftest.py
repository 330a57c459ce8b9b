"""Kallglot, Twilio and Telnyx simulated on loopback, and the settings a bridge would use with
them: what the preflight checks ask, for real, over sockets."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bridge.config import Config
from bridge.sim.kallglot import KallglotSimulator
from tests.e2e.carriers import Sims

CENTRE = "+15550100001"
SOLO = "+15550100021"
ROUTES = f"""
[routes."{CENTRE}"]
agent = "+15550100002"
customer_language = "de"
agent_language = "en"

[routes."{SOLO}"]
customer_language = "de"
agent_language = "en"
"""
PUBLIC_URL = "http://127.0.0.1:8080"  # the simulators need no public URL
API_TOKEN = "preflight-test-token-" + "t" * 32


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Services:
    kallglot: KallglotSimulator
    kallglot_url: str
    sims: Sims
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def twilio(self) -> Any:
        return self.sims.twilio

    @property
    def telnyx(self) -> Any:
        return self.sims.telnyx

    def config(self, **overrides: str | None) -> Config:
        """The settings, with `overrides` (None: the setting removed)."""
        return Config.from_env(self.environment(**overrides))

    def environment(self, **overrides: str | None) -> dict[str, str]:
        env = dict(self.env)
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return env

    def own_routed_numbers(self) -> None:
        """The routed numbers are the Twilio account's, calling the bridge: all good."""
        for number in (CENTRE, SOLO):
            self.twilio.own_number(number, PUBLIC_URL + "/twilio/voice")


@pytest.fixture
async def services(aiohttp_server: Any, tmp_path: Path) -> Any:
    kallglot = KallglotSimulator()
    server = await aiohttp_server(kallglot.app())
    sims = await Sims.serve(aiohttp_server)
    routes = tmp_path / "routes.toml"
    routes.write_text(ROUTES)
    made = Services(kallglot, str(server.make_url("/v1")), sims, tmp_path)
    made.env = {
        "BRIDGE_PUBLIC_URL": PUBLIC_URL,
        "BRIDGE_SECRET": "x" * 40,
        "BRIDGE_API_TOKEN": API_TOKEN,
        "BRIDGE_ROUTES": str(routes),
        "BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.db'}",
        "KALLGLOT_API_URL": made.kallglot_url,
        "KALLGLOT_API_KEY": kallglot.api_key,
        **sims.env(PUBLIC_URL),
    }
    yield made
    await sims.close()


@pytest.fixture
def run_command(tmp_path: Path) -> Callable[..., Any]:
    """`python -m bridge <args>` in a child process with exactly `env` (plus PATH): its exit
    status and output, as an operator would see them."""
    import asyncio

    async def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bridge",
            *args,
            env={"PATH": os.environ.get("PATH", ""), **env},
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(60):
            out, err = await process.communicate()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    return run
