"""The simulators `serve` starts beside the bridge when no real Kallglot key or carrier account
is configured (local development), each announced loudly."""

from __future__ import annotations

import dataclasses
from contextlib import AsyncExitStack
from pathlib import Path

import structlog
from aiohttp import web

from bridge.carriers.twilio import carrier as twilio_carrier
from bridge.carriers.twilio.config import TwilioSettings
from bridge.config import Config

log = structlog.get_logger(__name__)
DEV_CALLER_ID = "+15550100000"
AGENT_SPEECH = Path(__file__).resolve().parents[2] / "tests" / "data" / "agent_en.wav"


async def with_simulators(config: Config, stack: AsyncExitStack) -> Config:
    if config.kallglot.api_key is None:
        from bridge.sim.kallglot import KallglotSimulator

        simulator = KallglotSimulator(keep_audio=False)  # a long dev run must not hoard audio
        runner = web.AppRunner(simulator.app())
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
        config = dataclasses.replace(
            config,
            kallglot=dataclasses.replace(config.kallglot, api_url=url, api_key=simulator.api_key),
        )
        log.warning(
            "kallglot_simulator_started",
            message="KALLGLOT_API_KEY is not set: using the built-in Kallglot SIMULATOR, which "
            "echoes speech instead of translating it. Set KALLGLOT_API_KEY for real translation.",
            simulator_url=url,
        )
    if not config.carriers:
        from bridge.audio.wav import parse_wav
        from bridge.sim.carrier import CarrierSimulator
        from bridge.sim.softphone import Phone

        speech = parse_wav(AGENT_SPEECH.read_bytes())[1] if AGENT_SPEECH.exists() else b""
        carrier = CarrierSimulator(default_phone=Phone(ring_s=1.0, audio=speech))
        api_url = await carrier.start()
        stack.push_async_callback(carrier.close)
        twilio = TwilioSettings(carrier.account_sid, carrier.auth_token, DEV_CALLER_ID, api_url)
        config = dataclasses.replace(config, carriers={twilio_carrier.NAME: twilio})
        log.warning(
            "carrier_simulator_started",
            message="No carrier account is set: the bridge dials through a SIMULATED Twilio "
            "where every number answers (the command to place a test call is on stdout).",
            carrier_api_url=api_url,
        )
        # Instructions for the person at the terminal, not a log line: logs carry no credentials.
        print(
            "Place a test call with:\n  .venv/bin/python -m bridge call --bridge "
            f"http://127.0.0.1:{config.bridge.port} --account-sid {carrier.account_sid} "
            f"--auth-token {carrier.auth_token} --to +15550100001 --audio tests/data/customer_de.wav",
            flush=True,
        )
    return config
