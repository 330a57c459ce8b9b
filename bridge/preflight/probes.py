"""The preflight's network edge: ask Kallglot, each carrier and the database, return plain facts.

Every probe is read-only (nothing is created, billed or migrated), bounded by a timeout, and
never raises for what the other side does: a failure is a fact for the rules (rules.py) to
judge. Each opens and closes its own HTTP session, so a check leaves nothing running.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Sequence
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp

from bridge.carriers.interface import CarrierError
from bridge.carriers.telnyx.application import fetch_application
from bridge.carriers.telnyx.config import TelnyxSettings
from bridge.carriers.twilio.account import IncomingNumber, TwilioAccount
from bridge.carriers.twilio.config import TwilioSettings
from bridge.kallglot import probe as kallglot_probe
from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.probe import ProbeResult
from bridge.preflight.findings import DatabaseFacts, Failure, TelnyxFacts, TwilioFacts
from bridge.store.config import StoreSettings

SCHEMA_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
NUMBER_LOOKUPS_AT_ONCE = 4  # routed numbers looked up together (Twilio's limits are per second)


async def kallglot(settings: KallglotSettings, timeout_s: float) -> ProbeResult:
    async with aiohttp.ClientSession() as http:
        return await kallglot_probe.probe(http, settings, timeout_s)


async def twilio(settings: TwilioSettings, numbers: Sequence[str], timeout_s: float) -> TwilioFacts:
    """The account, then (if it answered) each of `numbers` among its IncomingPhoneNumbers."""
    async with TwilioAccount(settings, timeout_s) as account:
        try:
            info = await account.fetch()
        except CarrierError as error:
            return TwilioFacts(Failure.of(error))
        gate = asyncio.Semaphore(NUMBER_LOOKUPS_AT_ONCE)

        async def look_up(number: str) -> list[IncomingNumber] | Failure:
            async with gate:
                try:
                    return await account.incoming_numbers(number)
                except CarrierError as error:
                    return Failure.of(error)

        found = await asyncio.gather(*(look_up(n) for n in numbers))
    return TwilioFacts(info, dict(zip(numbers, found, strict=True)))


async def account(proof: Awaitable[str]) -> str | Failure:
    """A carrier's own credentials check (its package's `check_account`), as a fact."""
    try:
        return await proof
    except CarrierError as error:
        return Failure.of(error)


async def telnyx(settings: TelnyxSettings, timeout_s: float) -> TelnyxFacts:
    try:
        return TelnyxFacts(await fetch_application(settings, timeout_s))
    except CarrierError as error:
        return TelnyxFacts(Failure.of(error))


def shown_url(url: str) -> str:
    """BRIDGE_DATABASE_URL fit for a terminal: without its password."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if not (at and ":" in user):
        return url  # as given: urlsplit().geturl() would turn sqlite:///x into sqlite:/x
    user = user.split(":", 1)[0] + ":***"
    return parts._replace(netloc=f"{user}{at}{host}").geturl()


async def database(settings: StoreSettings, timeout_s: float) -> DatabaseFacts:
    """The schema version, read without creating or migrating anything."""
    shown = shown_url(settings.database_url)
    version: int | None
    try:
        async with asyncio.timeout(timeout_s):
            if settings.is_postgres:
                version = await _postgres_version(settings.database_url, timeout_s)
            else:
                version = await asyncio.to_thread(_sqlite_version, settings.sqlite_path)
    except TimeoutError:
        return DatabaseFacts(shown, error=f"no answer within {timeout_s:g} s")
    except Exception as exc:  # whatever the driver raises, the operator needs its words
        return DatabaseFacts(shown, error=f"{type(exc).__name__}: {exc}".rstrip(": "))
    return DatabaseFacts(shown, version)


def _sqlite_version(path: str) -> int | None:
    if path == ":memory:":
        return None
    file = Path(path)
    if not file.exists():
        _check_creatable(file)
        return None
    # Read-only: a check must not create, lock for writing or convert (WAL) the file.
    db = sqlite3.connect(f"file:{quote(str(file.resolve()))}?mode=ro", uri=True, timeout=2.0)
    try:
        if db.execute(SCHEMA_TABLE).fetchone() is None:
            return 0
        return int(db.execute(VERSION).fetchone()[0])
    finally:
        db.close()


def _check_creatable(file: Path) -> None:
    """Serve creates the file and its missing directories: the nearest existing one must let it."""
    parent = file.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{parent} is not a writable directory, so {file} cannot be created")


async def _postgres_version(dsn: str, timeout_s: float) -> int:
    import asyncpg  # type: ignore[import-untyped]  # only where PostgreSQL is configured

    db = await asyncpg.connect(dsn, timeout=timeout_s)
    try:
        if await db.fetchval("SELECT to_regclass('schema_version')") is None:
            return 0
        return int(await db.fetchval(VERSION))
    finally:
        await db.close()
