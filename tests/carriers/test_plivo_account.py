"""The preflight's Plivo credentials probe against the simulator over loopback."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bridge.carriers.interface import CarrierError
from bridge.carriers.plivo.account import check_account
from bridge.carriers.plivo.config import PlivoSettings
from bridge.sim.plivo import PlivoSimulator

CALLER_ID = "+15550100000"


@pytest.fixture
async def sim(aiohttp_server: Any) -> AsyncIterator[PlivoSimulator]:
    sim = PlivoSimulator()
    sim.api_url = str((await aiohttp_server(sim.app)).make_url("/v1"))
    yield sim
    await sim.close()


def settings(
    sim: PlivoSimulator, token: str | None = None, api_url: str | None = None
) -> PlivoSettings:
    return PlivoSettings(
        sim.auth_id, token or sim.auth_token, CALLER_ID, api_url or sim.api_url or ""
    )


async def test_right_credentials_describe_the_account(sim: PlivoSimulator) -> None:
    described = await check_account(settings(sim))
    assert described == f"account {sim.auth_id} (Plivo simulator, standard)"


async def test_a_wrong_token_is_refused_without_showing_it(sim: PlivoSimulator) -> None:
    wrong = "not-the-token-" + sim.auth_token[:8]
    with pytest.raises(CarrierError) as caught:
        await check_account(settings(sim, token=wrong))
    assert caught.value.status == 401
    message = str(caught.value)
    assert message.startswith(f"Plivo refused to fetch account {sim.auth_id}: HTTP 401, ")
    assert "authentication failed" in message
    assert wrong not in message
    assert sim.auth_token not in message


async def test_another_accounts_id_is_refused(sim: PlivoSimulator) -> None:
    other = PlivoSettings("MA" + "9" * 18, sim.auth_token, CALLER_ID, sim.api_url or "")
    with pytest.raises(CarrierError) as caught:
        await check_account(other)
    assert caught.value.status == 401


async def test_nothing_listening_is_unreachable(sim: PlivoSimulator) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CarrierError) as caught:
        await check_account(settings(sim, api_url=f"http://127.0.0.1:{port}/v1"), timeout_s=5)
    assert caught.value.status is None
    message = str(caught.value)
    assert message.startswith(f"could not reach Plivo to fetch account {sim.auth_id}: ")
    assert sim.auth_token not in message
