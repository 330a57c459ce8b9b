"""The background writer: nothing waits for the database, nothing grows without bound.

Outages are real: a SQLite file another connection holds locked, a PostgreSQL port nobody
listens on. Tests wait on the writer's own counters, never on the clock.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from bridge.store.base import open_store
from bridge.store.config import StoreSettings
from bridge.store.postgres import PostgresStore
from bridge.store.query import CallQuery
from bridge.store.records import LegRecord
from bridge.store.sqlite import SqliteStore
from bridge.store.writer import RecordWriter
from tests.ports import port_for_a_process
from tests.store.support import a_call

FAST_RETRY = (0.01, 0.05)


async def test_everything_submitted_is_written_by_shutdown(database: StoreSettings) -> None:
    store = open_store(database)
    await store.migrate()
    writer = RecordWriter(store, batch=7)
    writer.start()
    try:
        for n in range(50):
            assert writer.submit(a_call(n, state="ringing", legs=()))
            assert writer.submit(a_call(n))  # the same call again, further along
        await writer.close(timeout_s=10)
        rows = await store.list_calls(CallQuery(limit=200), fetch=200)
        assert len(rows) == 50
        assert {r.state for r in rows} == {"ended"}
        assert writer.stats.written == 100
        assert writer.stats.dropped == writer.stats.rejected == 0
    finally:
        await store.close()


async def test_a_record_the_database_refuses_does_not_hold_up_the_rest(
    database: StoreSettings,
) -> None:
    store = open_store(database)
    await store.migrate()
    writer = RecordWriter(store)
    writer.start()
    bad = a_call(2, legs=(LegRecord("agent", None),))  # type: ignore[arg-type]  (NOT NULL)
    try:
        with capture_logs() as logs:
            for record in (a_call(1), bad, a_call(3)):
                writer.submit(record)
            await writer.flush()
        rows = await store.list_calls(CallQuery(), fetch=10)
        assert [r.call_id for r in rows] == ["call_0003", "call_0001"]
        assert writer.stats.rejected == 1
        assert [e["call_id"] for e in logs if e["event"] == "call_records_rejected"] == [
            "call_0002"
        ]
    finally:
        await writer.close(timeout_s=5)
        await store.close()


async def test_a_locked_database_queues_drops_past_the_bound_and_catches_up(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "records.db")
    store = SqliteStore(path, busy_timeout_s=0.05)
    await store.migrate()
    writer = RecordWriter(store, max_queue=5, retry_delays=FAST_RETRY)
    writer.start()
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        with capture_logs() as logs:
            holder.execute("BEGIN EXCLUSIVE")  # another process is writing, for a long time
            accepted = [writer.submit(a_call(n)) for n in range(8)]
            assert accepted == [True] * 5 + [False] * 3  # submit() never waited
            async with asyncio.timeout(5):
                await writer.wait_until(lambda stats: stats.outages == 1)
            holder.execute("ROLLBACK")
            async with asyncio.timeout(5):
                await writer.flush()
        assert writer.stats.dropped == 3
        assert writer.stats.written == 5
        assert len(await store.list_calls(CallQuery(), fetch=100)) == 5
        events = [e["event"] for e in logs]
        assert events.count("call_records_database_unreachable") == 1  # once per outage
        assert "call_records_dropped" in events
        assert "call_records_database_reachable_again" in events
    finally:
        holder.close()
        await writer.close(timeout_s=5)
        await store.close()


async def test_an_unreachable_postgres_costs_callers_nothing_and_shutdown_gives_up() -> None:
    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{port_for_a_process()}/none")
    writer = RecordWriter(store, max_queue=3, retry_delays=FAST_RETRY)
    writer.start()
    try:
        with capture_logs() as logs:
            assert all(writer.submit(a_call(n)) for n in range(3))
            async with asyncio.timeout(5):
                await writer.wait_until(lambda stats: stats.outages == 1)
            # The three are in the writer's hands, retrying; the queue holds three more.
            more = [writer.submit(a_call(n)) for n in range(10, 14)]
            assert more == [True, True, True, False]
            await writer.close(timeout_s=0.2)
        events = [e["event"] for e in logs]
        assert "call_records_database_unreachable" in events
        assert "call_records_lost_at_shutdown" in events
        assert writer.stats.written == 0
        assert writer.stats.dropped == 1
    finally:
        await store.close()


def test_the_queue_is_bounded_by_construction() -> None:
    with pytest.raises(ValueError, match="bounded"):
        RecordWriter(SqliteStore(":memory:"), max_queue=0)
