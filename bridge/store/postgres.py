"""PostgreSQL call records, for more than one bridge instance (asyncpg, a small pool).

Migrations run in one transaction under a transaction-scoped advisory lock, so instances that
start together queue up behind the first, which does the work; the others then find nothing
pending. Connection trouble of any kind surfaces as StoreUnavailable (the writer retries it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no type information shipped
import structlog

from bridge.calls.obligations import Adoption, SessionObligation
from bridge.store import sql
from bridge.store.base import Orphan, StoreUnavailable
from bridge.store.migrations import (
    CURRENT_VERSION,
    MIGRATIONS,
    RECORD_VERSION,
    SCHEMA_VERSION_TABLE,
    Migration,
    latest,
    pending,
)
from bridge.store.query import CallQuery
from bridge.store.records import CallRecord, WebhookEvent

log = structlog.get_logger(__name__)
MIGRATION_LOCK = 0x6B676C62_00000001  # "kglb" + 1: this schema's advisory lock key
CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 10.0
UNAVAILABLE = (
    OSError,  # refused, unreachable, reset (ConnectionError is one)
    TimeoutError,
    asyncpg.InterfaceError,  # connection closed under us, pool closing
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,  # starting up, shutting down
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, query cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full
)


class PostgresStore:
    def __init__(self, dsn: str, max_connections: int = 5) -> None:
        self._dsn = dsn
        self._max = max_connections
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()  # the first uses may come at once: build one pool

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=1,
                        max_size=self._max,
                        timeout=CONNECT_TIMEOUT_S,
                        command_timeout=COMMAND_TIMEOUT_S,
                    )
                pool = self._pool
            async with pool.acquire(timeout=CONNECT_TIMEOUT_S) as connection:
                yield connection
        except UNAVAILABLE as exc:
            raise StoreUnavailable(f"PostgreSQL: {type(exc).__name__}: {exc}") from exc

    async def migrate(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
        async with self._connection() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await db.execute(SCHEMA_VERSION_TABLE)
            current = int(await db.fetchval(CURRENT_VERSION))
            steps = pending(current, migrations)
            for step in steps:
                for statement in step.statements:
                    await db.execute(statement)
                await db.execute(RECORD_VERSION, step.version, step.name, time.time())
        if current > latest(migrations):
            log.warning("records_schema_newer", version=current, known=latest(migrations))
        return max([current, *(s.version for s in steps)])

    async def save_calls(self, records: Sequence[CallRecord]) -> None:
        now = time.time()
        async with self._connection() as db, db.transaction():
            await db.executemany(sql.UPSERT_CALL, [sql.call_params(r, now) for r in records])
            legs = [sql.leg_params(r, leg) for r in records for leg in r.legs]
            if legs:
                await db.executemany(sql.UPSERT_LEG, legs)

    async def add_event(self, event: WebhookEvent) -> bool:
        async with self._connection() as db:
            status = await db.execute(sql.INSERT_EVENT, *sql.event_params(event))
        return bool(status == "INSERT 0 1")

    async def get_call(self, call_id: str) -> CallRecord | None:
        async with self._connection() as db:
            found = await _with_legs(db, await db.fetch(sql.SELECT_CALL, call_id))
        return found[0] if found else None

    async def list_calls(self, query: CallQuery, fetch: int) -> list[CallRecord]:
        text, params = sql.select_calls(query, fetch)
        async with self._connection() as db:
            return await _with_legs(db, await db.fetch(text, *params))

    async def events(self, session_id: str | None = None) -> list[WebhookEvent]:
        text = sql.SELECT_EVENTS + (" WHERE session_id = $1" if session_id else "")
        text += " ORDER BY received_at, event_id"
        args: tuple[Any, ...] = (session_id,) if session_id else ()
        async with self._connection() as db:
            rows = await db.fetch(text, *args)
        return [sql.event_from_row(tuple(row)) for row in rows]

    async def heartbeat(self, instance: str, at: float) -> None:
        async with self._connection() as db:
            await db.execute(sql.HEARTBEAT, instance, at)

    async def end_orphans(self, at: float, silent_since: float) -> list[Orphan]:
        async with self._connection() as db, db.transaction():
            rows = await db.fetch(sql.END_ORPHANS, at, silent_since, sql.ORPHAN_REASON)
            orphans = [Orphan(row[0], row[1], row[2], bool(row[3])) for row in rows]
            recovered = [
                (o.call_id, o.session_id, at)
                for o in orphans
                if o.session_id is not None and o.heartbeated
            ]
            if recovered:
                await db.executemany(sql.RECOVER_SESSION, recovered)
        return orphans

    async def save_sessions(self, obligations: Sequence[SessionObligation]) -> None:
        async with self._connection() as db, db.transaction():
            await db.executemany(sql.UPSERT_SESSION, [sql.session_params(o) for o in obligations])

    async def get_session(self, call_id: str) -> SessionObligation | None:
        async with self._connection() as db:
            row = await db.fetchrow(sql.SELECT_SESSION, call_id)
        return None if row is None else sql.session_from_row(tuple(row)).obligation

    async def adopt_sessions(
        self, instance: str, at: float, silent_since: float, *, own: bool
    ) -> list[Adoption]:
        async with self._connection() as db:
            rows = await db.fetch(sql.ADOPT_SESSIONS, instance, silent_since, at, own)
        return [sql.session_from_row(tuple(row)) for row in rows]

    async def claim_stream(
        self, call_id: str, role: str, instance: str, stream_id: str, at: float
    ) -> bool:
        async with self._connection() as db:
            status = await db.execute(sql.CLAIM_STREAM, call_id, role, instance, stream_id, at)
        return bool(status == "INSERT 0 1")

    async def prune_claims(self, before: float) -> None:
        async with self._connection() as db:
            await db.execute(sql.PRUNE_CLAIMS, before)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


async def _with_legs(db: asyncpg.Connection, calls: list[asyncpg.Record]) -> list[CallRecord]:
    if not calls:
        return []
    text, params = sql.select_legs([row[0] for row in calls])
    legs = await db.fetch(text, *params)
    return sql.records_from_rows([tuple(r) for r in calls], [tuple(r) for r in legs])
