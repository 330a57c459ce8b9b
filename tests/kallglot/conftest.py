from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from pytest_aiohttp.plugin import AiohttpServer

from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.rest import KallglotClient
from bridge.sim.kallglot import KallglotSimulator
from tests.kallglot.support import fast_settings


@pytest.fixture
def sim() -> KallglotSimulator:
    """Fast mode (no translation delay): each input chunk comes straight back."""
    return KallglotSimulator(translation_delay_s=0)


@pytest.fixture
async def sim_url(aiohttp_server: AiohttpServer, sim: KallglotSimulator) -> str:
    server = await aiohttp_server(sim.app())
    return str(server.make_url("/v1"))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def settings(sim_url: str, sim: KallglotSimulator) -> KallglotSettings:
    return fast_settings(sim_url, sim.api_key)


@pytest.fixture
def client(http: aiohttp.ClientSession, settings: KallglotSettings) -> KallglotClient:
    return KallglotClient(http, settings)
