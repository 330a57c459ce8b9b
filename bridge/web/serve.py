"""`python -m bridge serve`: run the bridge until SIGTERM/SIGINT, then drain and exit 0.

Without KALLGLOT_API_KEY the built-in Kallglot simulator starts beside the bridge, and without
a carrier account a simulated carrier does (bridge/sim/dev.py): both say so loudly, because a
bridge that quietly "translates" against a simulator in production would be worse than one that
refuses to start.

It listens through `bridge.web.listener`, which bounds how long a connection may take to send
its first request head and how many may wait for one, so it can face the internet directly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from contextlib import AsyncExitStack

import structlog
from aiohttp import web

from bridge.calls.model import EndReason
from bridge.config import Config
from bridge.log import configure_logging, describe
from bridge.settings import ConfigError
from bridge.sim.dev import with_simulators
from bridge.web.app import create_app
from bridge.web.keys import REGISTRY, SERVICES
from bridge.web.listener import app_runner, listen

log = structlog.get_logger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to listen on (default BRIDGE_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default BRIDGE_PORT or 8080)")


def run(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    if args.host:
        env["BRIDGE_HOST"] = args.host
    if args.port:
        env["BRIDGE_PORT"] = str(args.port)
    try:
        config = Config.from_env(env)
    except ConfigError as exc:
        print(f"kallglot-bridge: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level, config.log_json)
    return asyncio.run(serve(config))


async def serve(config: Config) -> int:
    async with AsyncExitStack() as stack:
        config = await with_simulators(config, stack)
        if config.bridge.secret_is_ephemeral:
            log.warning(
                "BRIDGE_SECRET is not set: call tickets are signed with a random per-process "
                "secret, so instances cannot verify each other's tickets. Set it in production."
            )
        app = create_app(config)
        runner = app_runner(app, config.bridge)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        host = config.bridge.host
        refusals = app[SERVICES].metrics.http_refusals
        try:
            listener = await listen(
                runner, config.bridge, on_refused=lambda reason: refusals.labels(reason).inc()
            )
        except OSError as exc:  # the port is taken, or the address is not this host's
            log.error(
                "cannot_listen",
                address=f"{host}:{config.bridge.port}",
                error=describe(exc),
                hint="BRIDGE_PORT is in use, or BRIDGE_HOST is not an address of this host",
            )
            return 2
        stack.callback(listener.close)  # runs first on the way out: stop listening, then cleanup
        log.info(
            "bridge_listening",
            address=f"http://{host}:{listener.port}",
            public_url=config.bridge.public_url,
        )
        await _until_signalled()
        await drain(app, config.bridge.drain_timeout_s)  # still listening: latecomers hear why
    return 0


async def drain(app: web.Application, timeout_s: float) -> None:
    """Stop taking calls, let live ones finish (up to `timeout_s`), then end the rest cleanly."""
    registry = app[REGISTRY]
    registry.draining = True
    log.info("draining", live_calls=len(registry), timeout_s=timeout_s)
    try:
        async with asyncio.timeout(timeout_s):
            await registry.wait_idle()
    except TimeoutError:
        await registry.end_all(EndReason.DRAIN_TIMEOUT)
    log.info("drained")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
