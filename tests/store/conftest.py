"""The store suite runs against both databases: every test taking `database` runs twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.store.base import Store, open_store
from bridge.store.config import StoreSettings
from tests.store.pg import postgres_server  # noqa: F401  (session fixture, used below)


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSettings:
    """Settings naming a fresh, empty database of each kind."""
    if request.param == "sqlite":
        return StoreSettings(database_url=f"sqlite:///{tmp_path}/records.db", instance_id="i-1")
    server = request.getfixturevalue("postgres_server")
    return StoreSettings(database_url=await server.create_database(), instance_id="i-1")


@pytest.fixture
async def store(database: StoreSettings) -> AsyncIterator[Store]:
    """A migrated store on a fresh database."""
    opened = open_store(database)
    await opened.migrate()
    yield opened
    await opened.close()
