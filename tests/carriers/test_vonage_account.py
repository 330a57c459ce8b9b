"""The preflight's read-only Vonage probe against the Vonage simulator: the application's own key
passes, another key is refused with Vonage's 401, and a Vonage that is not there says so."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from bridge.carriers.interface import CarrierError
from bridge.carriers.vonage.account import check_account
from bridge.carriers.vonage.appjwt import application_token, generate_private_key
from bridge.carriers.vonage.config import VonageSettings
from bridge.carriers.vonage.rest import VonageRest
from bridge.sim.softphone import Phone
from bridge.sim.vonage import VonageSimulator

CALLEE = "+15550100002"
DIAL = {
    "to": [{"type": "phone", "number": CALLEE.removeprefix("+")}],
    "from": {"type": "phone", "number": "15550100000"},
    "ncco": [{"action": "talk", "text": "hello"}],
    "event_url": ["http://127.0.0.1:9/vonage/voice"],
}


@pytest.fixture
async def sim(aiohttp_server: Any) -> AsyncIterator[VonageSimulator]:
    simulator = VonageSimulator()
    simulator.api_url = str((await aiohttp_server(simulator.app)).make_url("")).rstrip("/")
    yield simulator
    await simulator.close()


def settings(sim: VonageSimulator, **changes: Any) -> VonageSettings:
    made = VonageSettings(
        sim.application_id,
        sim.private_key,
        sim.signature_secret,
        "+15550100000",
        api_url=sim.api_url or "",
    )
    return replace(made, **changes)


def closed_port() -> int:
    """A loopback port nothing listens on: bound by us, then let go."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_the_applications_key_lists_calls_and_names_the_application(
    sim: VonageSimulator,
) -> None:
    description = await check_account(settings(sim))
    assert sim.application_id in description
    assert sim.requests == ["GET /v1/calls"]  # one request, and read-only


async def test_the_simulator_lists_its_calls_in_vonages_shape(sim: VonageSimulator) -> None:
    sim.add_phone(CALLEE, Phone(ring_s=5.0))
    rest = VonageRest(settings(sim))
    try:
        dialled = await rest.dial(DIAL, CALLEE)
    finally:
        await rest.close()
    token = application_token(sim.private_key, sim.application_id, time.time())
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{sim.api_url}/v1/calls",
            params={"page_size": "1"},
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        body = await response.json()
    assert response.status == 200
    assert (body["page_size"], body["count"]) == (1, 1)
    (call,) = body["_embedded"]["calls"]
    assert call["uuid"] == dialled
    assert call["to"] == {"type": "phone", "number": CALLEE.removeprefix("+")}


async def test_a_missing_jwt_gets_vonages_401_body(sim: VonageSimulator) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sim.api_url}/v1/calls") as response,
    ):
        body = await response.json()
    assert response.status == 401
    assert body["title"] == "Unauthorized"
    assert "no application JWT" in body["detail"]


async def test_another_private_key_is_refused_with_vonages_401(sim: VonageSimulator) -> None:
    other_key = generate_private_key()
    with pytest.raises(CarrierError) as refused:
        await check_account(settings(sim, private_key=other_key))
    assert refused.value.status == 401
    message = str(refused.value)
    assert message.startswith(
        f"Vonage refused to list calls for application {sim.application_id}: HTTP 401, "
    )
    assert "PRIVATE KEY" not in message
    assert "eyJ" not in message  # no JWT (every one starts with its base64 header)


async def test_a_vonage_that_is_not_there_is_unreachable_not_refused(
    sim: VonageSimulator,
) -> None:
    with pytest.raises(CarrierError) as unreachable:
        await check_account(settings(sim, api_url=f"http://127.0.0.1:{closed_port()}"))
    assert unreachable.value.status is None
    assert str(unreachable.value).startswith(
        f"could not reach Vonage to list calls for application {sim.application_id}: "
    )
