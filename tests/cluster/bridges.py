"""Bridge instances as real processes (`python -m bridge serve`), each logging JSON to a file.

The logs are how the test learns where each leg landed: every instance writes `leg_connected`
with the call id and the leg, and nothing else in the test can see inside a process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.cluster.nginx import wait_for_port


class BridgeProcess:
    def __init__(self, name: str, port: int, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = port
        self.env = env
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {
            **os.environ,
            **self.env,
            "BRIDGE_PORT": str(self.port),
            "BRIDGE_INSTANCE_ID": self.name,
        }
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bridge",
                "serve",
                env=env,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        await wait_for_port(self.port, self.process, self.log, timeout_s=30)

    async def draining(self) -> bool:
        """Whether the instance says it is draining (its SIGTERM handler has run)."""
        async with (
            aiohttp.ClientSession() as http,
            http.get(self.url + "/readyz") as response,
        ):
            body = await response.json()
            return response.status == 503 and body.get("reason") == "draining"

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def wait_exit(self) -> int:
        assert self.process is not None
        return await self.process.wait()

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """The instance's JSON log lines (the event named `name` only, if given)."""
        found = []
        for line in self.log.read_text().splitlines():
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            if name is None or event.get("event") == name:
                found.append(event)
        return found
