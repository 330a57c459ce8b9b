"""/readyz follows Kallglot: 503 while it cannot be reached, 200 once it answers again.

Kallglot really goes away: the bridge reaches it through a proxy that refuses connections
(bridge/sim/outage_proxy.py). The watch's policy is also tested on its own, on a fake clock.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from bridge.calls.services import Health
from bridge.config import Config
from bridge.kallglot.probe import ProbeResult, Reach
from bridge.sim.carrier import CarrierSimulator
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.outage_proxy import OutageProxy
from bridge.web.app import create_app
from bridge.web.kallglot_watch import KallglotWatch, WatchTiming
from bridge.web.keys import SERVICES

FAST = WatchTiming(interval_s=0.2, retry_s=0.05, failures_to_unready=2, timeout_s=1.0)
DOWN = ProbeResult(Reach.UNREACHABLE, "ClientConnectorError: refused")
UP = ProbeResult(Reach.ACCEPTED, "HTTP 404", 404)


async def readyz(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url + "/readyz") as response:
        return response.status, await response.json()


async def test_readyz_is_503_while_kallglot_is_down_and_200_once_it_is_back(
    aiohttp_server: Any, tmp_path: Path
) -> None:
    kallglot = KallglotSimulator()
    upstream = await aiohttp_server(kallglot.app())
    proxy = OutageProxy(upstream.host, upstream.port)
    carrier = CarrierSimulator()
    carrier.api_url = str((await aiohttp_server(carrier.app)).make_url("")).rstrip("/")
    api_url = f"http://127.0.0.1:{await proxy.start()}/v1"
    config = Config.from_env(
        {
            "BRIDGE_SECRET": "x" * 40,
            "BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.db'}",
            "KALLGLOT_API_URL": api_url,
            "KALLGLOT_API_KEY": kallglot.api_key,
            "TWILIO_ACCOUNT_SID": carrier.account_sid,
            "TWILIO_AUTH_TOKEN": carrier.auth_token,
            "TWILIO_CALLER_ID": "+15550100000",
            "TWILIO_API_URL": carrier.api_url,
        }
    )
    app = create_app(config, kallglot_watch=FAST)
    bridge = await aiohttp_server(app)
    url = str(bridge.make_url("")).rstrip("/")
    health = app[SERVICES].health
    try:
        async with asyncio.timeout(20):
            assert await readyz(url) == (200, {"ready": True, "calls": 0})

            await proxy.down()
            await health.wait_until(lambda h: h.kallglot_unreachable is not None)
            status, body = await readyz(url)
            assert status == 503
            assert body["reason"].startswith(
                f"Kallglot is unreachable at KALLGLOT_API_URL={api_url}"
            )

            await proxy.up()
            await health.wait_until(lambda h: h.not_ready_reason is None)
            assert await readyz(url) == (200, {"ready": True, "calls": 0})
    finally:
        await proxy.close()
        await carrier.close()
    assert not kallglot.sessions  # probing created (and billed) nothing


SLOW = WatchTiming(interval_s=15.0, retry_s=2.0, failures_to_unready=2)  # whole seconds: exact


def watch(timing: WatchTiming = SLOW) -> tuple[KallglotWatch, list[float]]:
    now = [100.0]
    health = Health(clock=lambda: now[0])
    return KallglotWatch(health, "https://api.kallglot.com/v1", timing, lambda: now[0]), now


def test_one_failed_probe_is_a_blip_two_are_an_outage_and_one_answer_ends_it() -> None:
    kallglot, now = watch()
    assert kallglot.delay() == 0  # first thing at start-up
    assert kallglot.observe(UP) is None
    assert kallglot.delay() == SLOW.interval_s

    now[0] += SLOW.interval_s
    assert kallglot.observe(DOWN) == "kallglot_probe_failed"
    assert kallglot.health.not_ready_reason is None  # not yet
    assert kallglot.delay() == SLOW.retry_s  # but asked again soon
    now[0] += SLOW.retry_s
    assert kallglot.observe(DOWN) == "kallglot_unreachable"
    reason = kallglot.health.not_ready_reason
    assert reason == (
        "Kallglot is unreachable at KALLGLOT_API_URL=https://api.kallglot.com/v1: "
        "ClientConnectorError: refused"
    )
    now[0] += SLOW.retry_s
    assert kallglot.observe(DOWN) is None  # still down: nothing new to log
    assert kallglot.observe(UP) == "kallglot_reachable_again"
    assert kallglot.health.not_ready_reason is None
    assert kallglot.probes == 5


def test_a_refused_key_makes_the_instance_unready_until_the_key_works() -> None:
    kallglot, _ = watch()
    refused = ProbeResult(Reach.REJECTED, "HTTP 401, invalid_api_key: unknown key", 401)
    assert kallglot.observe(refused) == "kallglot_key_refused"
    assert kallglot.health.kallglot_rejected == (
        "Kallglot refused the API key: HTTP 401, invalid_api_key: unknown key"
    )
    assert kallglot.observe(refused) is None
    assert kallglot.observe(UP) == "kallglot_reachable_again"
    assert kallglot.health.not_ready_reason is None


def test_calls_that_prove_kallglot_up_put_the_probes_off() -> None:
    kallglot, now = watch()
    kallglot.observe(UP)
    now[0] += 10.0
    kallglot.health.kallglot_rejected = None  # what a call whose session came up does
    assert kallglot.delay() == 15.0  # counted from the call's proof, not the last probe
    now[0] += 15.0
    assert kallglot.delay() == 0.0


def test_a_call_that_comes_through_ends_an_outage_at_once() -> None:
    kallglot, _ = watch()
    kallglot.observe(DOWN)
    kallglot.observe(DOWN)
    assert kallglot.health.not_ready_reason is not None
    kallglot.health.kallglot_rejected = None  # a session and its stream came up
    assert kallglot.health.not_ready_reason is None
