"""`python -m bridge serve`: run the bridge until SIGTERM/SIGINT, then drain and exit 0.

Without KALLGLOT_API_KEY the built-in Kallglot simulator starts beside the bridge, and without
a carrier account a simulated carrier does (bridge/sim/dev.py): both say so loudly, because a
bridge that quietly "translates" against a simulator in production would be worse than one that
refuses to start.

It listens through `bridge.web.listener`, which bounds how long a connection may take to send
its first request head and how many may wait for one, so it can face the internet directly.
The socket is bound before anything else starts, so a port in use or a host that is not this
one's is, like a configuration mistake, one line naming the setting and exit status 2. How a
signal stops it (drain; a second one ends the calls now) is bridge/web/shutdown.py.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import os
import socket
import sys
from contextlib import AsyncExitStack

import structlog

from bridge.config import Config
from bridge.log import configure_logging, describe, renders_json
from bridge.preflight.run import startup_errors
from bridge.settings import ConfigError
from bridge.sim.dev import with_simulators
from bridge.web.app import create_app
from bridge.web.keys import REGISTRY, SERVICES
from bridge.web.listener import app_runner, bind
from bridge.web.shutdown import StopSignals, drain

log = structlog.get_logger(__name__)


# The settings `serve --help` lists: a compact form of README's Configure table (the full one,
# with what each means), kept whole by tests/test_cli_help.py, which compares the two.
SETTINGS_HELP = """\
Settings come from the environment (README "Configure" explains each; a wrong value stops
the bridge with a message naming it). Defaults in brackets.

  where it listens and is reached
    BRIDGE_HOST [127.0.0.1]  BRIDGE_PORT [8080]
    BRIDGE_PUBLIC_URL [http://127.0.0.1:$BRIDGE_PORT]: the https URL carriers reach
    BRIDGE_HTTP_HEADER_TIMEOUT_S [10]  BRIDGE_HTTP_KEEPALIVE_TIMEOUT_S [75]
    BRIDGE_HTTP_MAX_PENDING_PER_IP [256]  BRIDGE_HTTP_MAX_PENDING [2048]
  calls
    BRIDGE_ROUTES: TOML file of numbers, agents, languages (deploy/routes.example.toml)
    BRIDGE_SECRET [random per process]  BRIDGE_API_TOKEN [unset: /v1/calls off]
    BRIDGE_RING_TIMEOUT_S [30]  BRIDGE_START_TIMEOUT_S [10]  BRIDGE_TICKET_TTL_S [120]
    BRIDGE_MAX_CALLS [500]  BRIDGE_DRAIN_TIMEOUT [3600]
    BRIDGE_BUSY_MESSAGE  BRIDGE_FALLBACK_NUMBER
    BRIDGE_PLAYOUT_LEAD_MS [200]  BRIDGE_PLAYOUT_PREBUFFER_MS [80]
    BRIDGE_PLAYOUT_MAX_QUEUE_MS [20000]
  Kallglot (without KALLGLOT_API_KEY a simulator starts beside the bridge)
    KALLGLOT_API_KEY  KALLGLOT_API_URL [https://api.kallglot.com/v1]
    KALLGLOT_STREAM_PROTOCOL [current]  KALLGLOT_CHUNK_MS [100]
    KALLGLOT_RETRY_TOTAL_S [30]  KALLGLOT_RETRY_MAX_ATTEMPTS [8]  KALLGLOT_HTTP_TIMEOUT_S [10]
    KALLGLOT_CONNECT_TIMEOUT_S [10]  KALLGLOT_PING_INTERVAL_S [15]  KALLGLOT_PONG_TIMEOUT_S [10]
    KALLGLOT_RECONNECT_TOTAL_S [30]  KALLGLOT_RECONNECT_MAX_ATTEMPTS [10]
    KALLGLOT_RECONNECT_BUFFER_S [10]  KALLGLOT_END_TIMEOUT_S [2]
    KALLGLOT_WEBHOOK_SECRET [unset: webhooks refused]  KALLGLOT_WEBHOOK_TOLERANCE_S [300]
  carriers (with no account set, a simulated Twilio starts beside the bridge)
    TWILIO_ACCOUNT_SID  TWILIO_AUTH_TOKEN  TWILIO_CALLER_ID  TWILIO_API_URL
    TELNYX_API_KEY  TELNYX_PUBLIC_KEY  TELNYX_CONNECTION_ID  TELNYX_CALLER_ID  TELNYX_API_URL
    TELNYX_CODEC [PCMU]  TELNYX_WEBHOOK_TOLERANCE_S [300]
    VONAGE_APPLICATION_ID  VONAGE_PRIVATE_KEY  VONAGE_SIGNATURE_SECRET  VONAGE_CALLER_ID
    VONAGE_API_URL [https://api.nexmo.com]  VONAGE_SAMPLE_RATE [16000]
    VONAGE_WEBHOOK_TOLERANCE_S [300]
    PLIVO_AUTH_ID  PLIVO_AUTH_TOKEN  PLIVO_CALLER_ID  PLIVO_API_URL [https://api.plivo.com/v1]
    PLIVO_CONTENT_TYPE [audio/x-mulaw;rate=8000]
    EXOTEL_ACCOUNT_SID  EXOTEL_API_KEY  EXOTEL_API_TOKEN  EXOTEL_API_URL [https://api.exotel.com]
    EXOTEL_CALLER_ID  EXOTEL_APP_ID  EXOTEL_WEBHOOK_USER  EXOTEL_WEBHOOK_PASSWORD
    EXOTEL_SAMPLE_RATE [8000]
  records and logs
    BRIDGE_DATABASE_URL [sqlite:///./kallglot-bridge.db]  BRIDGE_INSTANCE_ID [host name]
    BRIDGE_ORPHAN_AFTER_S [120]
    BRIDGE_LOG_LEVEL [info]  BRIDGE_LOG_JSON [JSON unless stderr is a terminal]
  demo and browser tests (not serve)
    BRIDGE_CHROMIUM [/usr/bin/chromium]
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve the bridge until SIGTERM/SIGINT (then drain: a second signal ends the calls now)."
    )
    parser.epilog = SETTINGS_HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
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


def listen_failure(host: str, port: int, exc: OSError) -> tuple[str, str]:
    """The setting to blame for a failed bind, and what to tell the operator."""
    shown = host or "every interface"
    if isinstance(exc, socket.gaierror):
        return "BRIDGE_HOST", (
            f"BRIDGE_HOST={host!r} does not resolve ({describe(exc)}): set it to an address or "
            "host name of this machine, such as 127.0.0.1 (local only) or 0.0.0.0 (every interface)"
        )
    if exc.errno == errno.EADDRINUSE:
        return "BRIDGE_PORT", (
            f"BRIDGE_PORT={port}: port {port} on {shown} is already in use by another process: "
            "stop that process or set BRIDGE_PORT to a free port"
        )
    if exc.errno == errno.EACCES:
        return "BRIDGE_PORT", (
            f"BRIDGE_PORT={port}: not allowed to listen on port {port} (ports below 1024 need "
            "privileges): set BRIDGE_PORT to 1024 or above, such as 8080"
        )
    if exc.errno in (None, errno.EADDRNOTAVAIL):  # asyncio: "could not bind on any address"
        return "BRIDGE_HOST", (
            f"BRIDGE_HOST={host!r} is not an address of this machine: set it to one of its "
            "addresses, such as 127.0.0.1 (local only) or 0.0.0.0 (every interface)"
        )
    return "BRIDGE_HOST", (
        f"cannot listen on {shown} port {port} ({describe(exc)}): check BRIDGE_HOST and BRIDGE_PORT"
    )


def _cannot_listen(config: Config, exc: OSError) -> None:
    """One line: a JSON log line where logs are JSON, else the sentence alone, as a
    configuration error is."""
    host, port = config.bridge.host, config.bridge.port
    setting, message = listen_failure(host, port, exc)
    if renders_json(config.log_json):
        log.error("cannot_listen", setting=setting, address=f"{host}:{port}", message=message)
    else:
        print(f"kallglot-bridge: {message}", file=sys.stderr, flush=True)


def _refuse_to_start(config: Config, message: str) -> None:
    if renders_json(config.log_json):
        log.error("preflight_failed", message=message, hint="python -m bridge check says more")
    else:
        print(f"kallglot-bridge: {message}", file=sys.stderr, flush=True)


async def serve(config: Config) -> int:
    with StopSignals() as signals:
        try:  # first, so that a wrong port or host is the one line said, before anything starts
            listener = await bind(config.bridge)
        except OSError as exc:
            _cannot_listen(config, exc)
            return 2
        async with AsyncExitStack() as stack:
            stack.callback(listener.close)  # if start-up fails before it accepts anything
            config = await with_simulators(config, stack)
            if refused := await startup_errors(config):  # what `check` would call fatal
                for message in refused:
                    _refuse_to_start(config, message)
                return 2
            if config.bridge.secret_is_ephemeral:
                log.warning(
                    "bridge_secret_ephemeral",
                    message="BRIDGE_SECRET is not set: call tickets are signed with a random "
                    "per-process secret, so instances cannot verify each other's tickets. "
                    "Set it in production.",
                )
            app = create_app(config)
            runner = app_runner(app, config.bridge)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            refusals = app[SERVICES].metrics.http_refusals
            await listener.start(runner, on_refused=lambda reason: refusals.labels(reason).inc())
            stack.callback(listener.close)  # runs first on the way out: stop listening, cleanup
            log.info(
                "bridge_listening",
                address=f"http://{config.bridge.host}:{listener.port}",
                public_url=config.bridge.public_url,
            )
            await signals.drain.wait()
            # Still listening meanwhile: latecomers hear why they are not taken.
            services = app[SERVICES]
            await drain(
                app[REGISTRY], services.control, config.bridge.drain_timeout_s, signals.end_now
            )
    return 0
