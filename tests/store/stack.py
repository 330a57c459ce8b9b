"""The tests/e2e stack (both simulators and the bridge on loopback) with call records on.

Records go to a SQLite file in the test's temp dir, Kallglot webhooks are accepted with a known
secret, and the Kallglot simulator can be told to deliver its webhooks to the bridge. Test
modules wrap `start` in a fixture of their own (see tests/web/test_kallglot_hooks.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bridge.config import Config
from bridge.sim.kallglot import KallglotSimulator
from bridge.store.recorder import CallRecords
from bridge.web.app import create_app
from bridge.web.keys import STORE
from tests.e2e.carriers import Sims
from tests.e2e.conftest import API_TOKEN, ROUTES, SECRET, Stack
from tests.ports import ReservedPort

WEBHOOK_SECRET = "whsec_test_bridge"
StackStarter = Callable[..., Awaitable[Stack]]


class RecordsStacks:
    """Starts stacks for one test and closes their carriers afterwards."""

    def __init__(self, aiohttp_server: Any, tmp_path: Path) -> None:
        self._server = aiohttp_server
        self._tmp = tmp_path
        self._made: list[Stack] = []

    async def start(
        self,
        *,
        webhooks_to_bridge: bool = False,
        translation_delay_s: float = 0.1,
        reuse: Stack | None = None,
        **env: str,
    ) -> Stack:
        """A bridge with its simulators; with `reuse`, a new bridge beside `reuse`'s simulators
        (a restart, or a second instance)."""
        reserved = ReservedPort()
        port = reserved.port
        if reuse is None:
            kallglot = KallglotSimulator(
                translation_delay_s=translation_delay_s,
                webhook_url=f"http://127.0.0.1:{port}/kallglot/webhooks"
                if webhooks_to_bridge
                else None,
                webhook_secret=WEBHOOK_SECRET,
                webhook_retry_delays=(0.2, 0.5),
            )
            kallglot_url = str((await self._server(kallglot.app())).make_url("/v1"))
            sims = await Sims.serve(self._server)
        else:
            kallglot, sims = reuse.kallglot, reuse.sims
            kallglot_url = reuse.env["KALLGLOT_API_URL"]
        routes = self._tmp / "routes.toml"
        routes.write_text(ROUTES)
        settings = {
            "BRIDGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "BRIDGE_SECRET": SECRET,
            "BRIDGE_API_TOKEN": API_TOKEN,
            "BRIDGE_ROUTES": str(routes),
            "BRIDGE_RING_TIMEOUT_S": "5",
            "BRIDGE_DATABASE_URL": f"sqlite:///{self._tmp}/records.db",
            "BRIDGE_INSTANCE_ID": "bridge-test",
            "KALLGLOT_API_URL": kallglot_url,
            "KALLGLOT_API_KEY": kallglot.api_key,
            "KALLGLOT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "KALLGLOT_RETRY_TOTAL_S": "5",
            **sims.env(f"http://127.0.0.1:{port}" if reuse is None else None),
        }
        settings.update(env)
        app = create_app(Config.from_env({k: v for k, v in settings.items() if v}))
        bridge = await self._server(app, port=port, socket_factory=reserved.socket_factory)
        stack = Stack(kallglot, sims, bridge, app, settings)
        if reuse is None:
            self._made.append(stack)
        return stack

    async def close(self) -> None:
        for stack in self._made:
            await stack.sims.close()


def records(stack: Stack) -> CallRecords:
    return stack.app[STORE]
