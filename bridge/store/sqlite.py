"""SQLite call records: the single-node default, stdlib only.

One connection, used only from one dedicated thread, so the event loop never waits on disk and
sqlite3 never sees two threads. WAL mode lets readers (another process, `sqlite3` on the
command line) look while the bridge writes; a busy timeout rides out another process's write.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

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

T = TypeVar("T")
log = structlog.get_logger(__name__)
# Primary result codes that mean "cannot get at the database now", not "bad statement".
UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
UPSERT_CALL = sql.for_sqlite(sql.UPSERT_CALL)
UPSERT_LEG = sql.for_sqlite(sql.UPSERT_LEG)
INSERT_EVENT = sql.for_sqlite(sql.INSERT_EVENT)
HEARTBEAT = sql.for_sqlite(sql.HEARTBEAT)
END_ORPHANS = sql.for_sqlite(sql.END_ORPHANS)
UPSERT_SESSION = sql.for_sqlite(sql.UPSERT_SESSION)
ADOPT_SESSIONS = sql.for_sqlite(sql.ADOPT_SESSIONS)
RECOVER_SESSION = sql.for_sqlite(sql.RECOVER_SESSION)
CLAIM_STREAM = sql.for_sqlite(sql.CLAIM_STREAM)
PRUNE_CLAIMS = sql.for_sqlite(sql.PRUNE_CLAIMS)
SELECT_SESSION = sql.for_sqlite(sql.SELECT_SESSION)


class SqliteStore:
    def __init__(self, path: str, busy_timeout_s: float = 5.0) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-records")
        self._db: sqlite3.Connection | None = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def job() -> T:
            try:
                return work(self._connection())
            except sqlite3.Error as exc:
                if getattr(exc, "sqlite_errorcode", 0) & 0xFF in UNAVAILABLE:
                    raise StoreUnavailable(f"SQLite {self.path}: {exc}") from exc
                raise

        return await asyncio.get_running_loop().run_in_executor(self._thread, job)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
            try:
                db.execute("PRAGMA foreign_keys = ON")
                if self.path != ":memory:":
                    self._enable_wal(db)
                    db.execute("PRAGMA synchronous = NORMAL")
            except BaseException:
                db.close()
                raise
            self._db = db
        return self._db

    def _enable_wal(self, db: sqlite3.Connection) -> None:
        """Switches a new file to WAL, waiting out other processes doing the same.

        SQLite does not call its busy handler for this switch: several instances opening one
        fresh file at once get "database is locked" at once (one in nine, measured, with
        five), however long the busy timeout. So retry here, within that same timeout.
        """
        deadline = time.monotonic() + self._busy_timeout_s
        delay = 0.005
        while True:
            try:
                db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)  # this store's own thread, never the event loop
            delay = min(delay * 2, 0.1)

    async def migrate(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
        def work(db: sqlite3.Connection) -> int:
            db.execute("BEGIN IMMEDIATE")  # the write lock: one migrating process at a time
            try:
                db.execute(SCHEMA_VERSION_TABLE)
                current = int(db.execute(CURRENT_VERSION).fetchone()[0])
                steps = pending(current, migrations)
                for step in steps:
                    for statement in step.statements:
                        db.execute(statement)
                    db.execute(
                        sql.for_sqlite(RECORD_VERSION), (step.version, step.name, time.time())
                    )
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
            if current > latest(migrations):
                log.warning("records_schema_newer", version=current, known=latest(migrations))
            return max([current, *(s.version for s in steps)])

        return await self._run(work)

    async def save_calls(self, records: Sequence[CallRecord]) -> None:
        def work(db: sqlite3.Connection) -> None:
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            try:
                for record in records:
                    db.execute(UPSERT_CALL, sql.call_params(record, now))
                    for leg in record.legs:
                        db.execute(UPSERT_LEG, sql.leg_params(record, leg))
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise

        await self._run(work)

    async def add_event(self, event: WebhookEvent) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            return db.execute(INSERT_EVENT, sql.event_params(event)).rowcount == 1

        return await self._run(work)

    async def get_call(self, call_id: str) -> CallRecord | None:
        def work(db: sqlite3.Connection) -> list[CallRecord]:
            return _with_legs(db, db.execute(sql.for_sqlite(sql.SELECT_CALL), (call_id,)))

        found = await self._run(work)
        return found[0] if found else None

    async def list_calls(self, query: CallQuery, fetch: int) -> list[CallRecord]:
        text, params = sql.select_calls(query, fetch)

        def work(db: sqlite3.Connection) -> list[CallRecord]:
            return _with_legs(db, db.execute(sql.for_sqlite(text), params))

        return await self._run(work)

    async def events(self, session_id: str | None = None) -> list[WebhookEvent]:
        text = sql.SELECT_EVENTS + (" WHERE session_id = ?1" if session_id else "")
        text += " ORDER BY received_at, event_id"
        args: tuple[Any, ...] = (session_id,) if session_id else ()

        def work(db: sqlite3.Connection) -> list[WebhookEvent]:
            return [sql.event_from_row(row) for row in db.execute(text, args)]

        return await self._run(work)

    async def heartbeat(self, instance: str, at: float) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(HEARTBEAT, (instance, at))

        await self._run(work)

    async def end_orphans(self, at: float, silent_since: float) -> list[Orphan]:
        def work(db: sqlite3.Connection) -> list[Orphan]:
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute(END_ORPHANS, (at, silent_since, sql.ORPHAN_REASON)).fetchall()
                orphans = [
                    Orphan(call, instance, session, bool(beat))
                    for call, instance, session, beat in rows
                ]
                for orphan in orphans:
                    if orphan.session_id is not None and orphan.heartbeated:
                        db.execute(RECOVER_SESSION, (orphan.call_id, orphan.session_id, at))
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise
            return orphans

        return await self._run(work)

    async def save_sessions(self, obligations: Sequence[SessionObligation]) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                for obligation in obligations:
                    db.execute(UPSERT_SESSION, sql.session_params(obligation))
                db.execute("COMMIT")
            except BaseException:
                _rollback(db)
                raise

        await self._run(work)

    async def get_session(self, call_id: str) -> SessionObligation | None:
        def work(db: sqlite3.Connection) -> SessionObligation | None:
            row = db.execute(SELECT_SESSION, (call_id,)).fetchone()
            return None if row is None else sql.session_from_row(row).obligation

        return await self._run(work)

    async def adopt_sessions(
        self, instance: str, at: float, silent_since: float, *, own: bool
    ) -> list[Adoption]:
        def work(db: sqlite3.Connection) -> list[Adoption]:
            rows = db.execute(ADOPT_SESSIONS, (instance, silent_since, at, own)).fetchall()
            return [sql.session_from_row(row) for row in rows]

        return await self._run(work)

    async def claim_stream(
        self, call_id: str, role: str, instance: str, stream_id: str, at: float
    ) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            params = (call_id, role, instance, stream_id, at)
            return db.execute(CLAIM_STREAM, params).rowcount == 1

        return await self._run(work)

    async def prune_claims(self, before: float) -> None:
        def work(db: sqlite3.Connection) -> None:
            db.execute(PRUNE_CLAIMS, (before,))

        await self._run(work)

    async def close(self) -> None:
        def work() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._thread, work)
        self._thread.shutdown(wait=True)


def _with_legs(db: sqlite3.Connection, cursor: sqlite3.Cursor) -> list[CallRecord]:
    calls = cursor.fetchall()
    if not calls:
        return []
    text, params = sql.select_legs([row[0] for row in calls])
    legs = db.execute(sql.for_sqlite(text), params).fetchall()
    return sql.records_from_rows(calls, legs)


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:  # SQLite may have rolled back already (e.g. after SQLITE_FULL)
        db.execute("ROLLBACK")
