"""The simulators `serve` starts beside the bridge when no real Kallglot key or carrier account
is configured (local development), each announced loudly."""

from __future__ import annotations

import dataclasses
import sys
from contextlib import AsyncExitStack
from importlib.resources import files

import structlog
from aiohttp import web

from bridge.carriers.twilio import carrier as twilio_carrier
from bridge.carriers.twilio.config import TwilioSettings
from bridge.config import Config

log = structlog.get_logger(__name__)
DEV_CALLER_ID = "+15550100000"


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
        from bridge.sim import dev_calls
        from bridge.sim.carrier import CarrierSimulator
        from bridge.sim.softphone import Phone
        from bridge.sim.speech import AGENT_EN, CUSTOMER_DE, speech_wav

        speech = parse_wav(speech_wav(AGENT_EN))[1]
        carrier = CarrierSimulator(default_phone=Phone(ring_s=1.0, audio=speech))
        dev_calls.add_routes(carrier.app, carrier)  # `call --sim` places its calls here
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
        # `--sim` makes the call in this same simulator, which the bridge dials the agent into.
        sim_url = api_url.removesuffix(carrier.API_PATH)
        customer = files("bridge.sim").joinpath("data", CUSTOMER_DE)
        print(
            f"Place a test call with:\n  {sys.executable} -m bridge call --bridge "
            f"http://127.0.0.1:{config.bridge.port} --sim {sim_url} "
            f"--account-sid {carrier.account_sid} --auth-token {carrier.auth_token} "
            f"--to +15550100001 --audio {customer}",
            flush=True,
        )
    return config
