"""The preflight's Exotel credentials check against the Exotel simulator: one read-only request
(Bulk Call Details, one record) that proves the key, token and SID, or says why not, without
ever repeating the token."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from bridge.carriers.exotel.account import check_account
from bridge.carriers.exotel.auth import basic_header
from bridge.carriers.exotel.config import ExotelSettings
from bridge.carriers.exotel.rest import ExotelRest, flow_url
from bridge.carriers.interface import CarrierError
from bridge.sim.exotel import ExotelSimulator, exotel_settings
from bridge.sim.softphone import Phone

WRONG_TOKEN = "wrong-token-0123456789abcdef"


@pytest.fixture
async def sim(aiohttp_server: Any) -> AsyncIterator[ExotelSimulator]:
    simulator = ExotelSimulator(default_phone=Phone(answer="no-answer", ring_s=0.05))
    simulator.api_url = str((await aiohttp_server(simulator.app)).make_url("")).rstrip("/")
    yield simulator
    await simulator.close()


def settings_of(sim: ExotelSimulator) -> ExotelSettings:
    return ExotelSettings.from_env(exotel_settings(sim, None))


async def test_the_right_credentials_prove_the_account(sim: ExotelSimulator) -> None:
    assert sim.account_sid in await check_account(settings_of(sim))


async def test_a_wrong_token_is_refused_without_repeating_it(sim: ExotelSimulator) -> None:
    settings = replace(settings_of(sim), api_token=WRONG_TOKEN)
    with pytest.raises(CarrierError) as refused:
        await check_account(settings)
    assert refused.value.status == 401
    message = str(refused.value)
    assert message.startswith(f"Exotel refused to list calls of account {sim.account_sid}")
    assert "HTTP 401, Authentication is required" in message
    assert WRONG_TOKEN not in message
    assert sim.api_token not in message


async def test_another_accounts_sid_is_refused(sim: ExotelSimulator) -> None:
    settings = replace(settings_of(sim), account_sid="someoneelse1")
    with pytest.raises(CarrierError, match="HTTP 403") as refused:
        await check_account(settings)
    assert refused.value.status == 403


async def test_an_unreachable_api_has_no_status() -> None:
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        "EXOTEL_ACCOUNT_SID": "kallglot1",
        "EXOTEL_API_KEY": "k",
        "EXOTEL_API_TOKEN": "secret-token",
        "EXOTEL_CALLER_ID": "+15550100000",
        "EXOTEL_APP_ID": "1",
        "EXOTEL_WEBHOOK_USER": "exotel",
        "EXOTEL_WEBHOOK_PASSWORD": "0123456789abcdef",
        "EXOTEL_API_URL": f"http://127.0.0.1:{port}",
    }
    with pytest.raises(CarrierError) as unreachable:
        await check_account(ExotelSettings.from_env(env), timeout_s=5.0)
    assert unreachable.value.status is None
    message = str(unreachable.value)
    assert message.startswith("could not reach Exotel to list calls of account kallglot1: ")
    assert "secret-token" not in message


async def test_the_simulator_lists_ended_calls_as_exotel_does(sim: ExotelSimulator) -> None:
    """The shape the probe relies on: `Metadata` and `Calls`, one page of `PageSize`, the
    account's ended calls only."""
    settings = settings_of(sim)
    assert (await _list(sim, settings))["Calls"] == []
    rest = ExotelRest(settings)
    try:
        fields = {"From": "+15550100002", "CallerId": settings.caller_id}
        sid = await rest.connect(fields | {"Url": flow_url(settings)})
    finally:
        await rest.close()
    async with asyncio.timeout(5):
        await sim.calls[sid].ended.wait()
    body = await _list(sim, settings)
    assert body["Metadata"]["PageSize"] == 1
    assert [(c["Sid"], c["Status"], c["AccountSid"]) for c in body["Calls"]] == [
        (sid, "no-answer", sim.account_sid)
    ]


async def _list(sim: ExotelSimulator, settings: ExotelSettings) -> Any:
    url = f"{sim.api_url}/v1/Accounts/{sim.account_sid}/Calls.json"
    headers = {"Authorization": basic_header(settings.api_key, settings.api_token)}
    async with (
        aiohttp.ClientSession() as http,
        http.get(url, params={"PageSize": "1"}, headers=headers) as response,
    ):
        assert response.status == 200
        return await response.json()
