"""The store's contract, run against SQLite and PostgreSQL alike (see conftest `database`)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bridge.calls.model import EndReason
from bridge.store.base import Orphan, Store, open_store
from bridge.store.config import StoreSettings
from bridge.store.migrations import MIGRATIONS, Migration, latest
from bridge.store.query import CallQuery, Cursor, merge_page
from bridge.store.records import DIALING, CallRecord, LegRecord, WebhookEvent
from tests.store.support import T0, a_call

NEXT = latest() + 1  # the version a later bridge would add
EXTRA = Migration(NEXT, "a later step", ("CREATE TABLE later_step (id INTEGER PRIMARY KEY)",))


async def test_migrating_creates_the_schema_once_and_again_is_a_no_op(
    database: StoreSettings,
) -> None:
    store = open_store(database)
    try:
        assert await store.migrate() == MIGRATIONS[-1].version
        assert await store.migrate() == MIGRATIONS[-1].version
        await store.save_calls([a_call(1)])
        assert await store.get_call("call_0001") == a_call(1)
    finally:
        await store.close()


async def test_pending_steps_apply_in_order_on_an_existing_database(
    database: StoreSettings,
) -> None:
    store = open_store(database)
    try:
        assert await store.migrate(MIGRATIONS[:1]) == 1  # an older bridge created it
        with pytest.raises(Exception):  # noqa: B017,PT011  (either driver's "no such table")
            await store.add_event(WebhookEvent("evt_1", "session.ended", T0, "{}"))
        assert await store.migrate((*MIGRATIONS, EXTRA)) == NEXT
        assert await store.migrate((*MIGRATIONS, EXTRA)) == NEXT
        assert await store.add_event(WebhookEvent("evt_1", "session.ended", T0, "{}"))
        # An older bridge on a newer database changes nothing and keeps working.
        assert await store.migrate() == NEXT
    finally:
        await store.close()


async def test_a_failing_step_leaves_no_trace(database: StoreSettings) -> None:
    store = open_store(database)
    try:
        await store.migrate()
        broken = Migration(
            NEXT, "broken", ("CREATE TABLE half_done (id INTEGER)", "NOT SQL AT ALL")
        )
        with pytest.raises(Exception):  # noqa: B017,PT011  (a syntax error, either driver)
            await store.migrate((*MIGRATIONS, broken))
        # The table the step created before failing was rolled back with it: applying a
        # correct step of that version that creates the same table works.
        fixed = Migration(NEXT, "fixed", ("CREATE TABLE half_done (id INTEGER)",))
        assert await store.migrate((*MIGRATIONS, fixed)) == NEXT
    finally:
        await store.close()


async def test_instances_starting_together_apply_each_step_exactly_once(
    database: StoreSettings,
) -> None:
    # Five instances with their own connections; the step is not idempotent (a plain CREATE
    # TABLE), so running it twice would fail one of them.
    stores = [open_store(database) for _ in range(5)]
    try:
        versions = await asyncio.gather(*(s.migrate((*MIGRATIONS, EXTRA)) for s in stores))
        assert versions == [NEXT] * 5
    finally:
        await asyncio.gather(*(s.close() for s in stores))


async def test_instances_opening_one_new_sqlite_file_together_all_get_in(
    tmp_path: Path,
) -> None:
    """SQLite does not wait out a busy lock while switching a new file to WAL: five openers
    failed up to one start in nine. Forty starts in a row must all succeed."""
    for attempt in range(40):
        settings = StoreSettings(f"sqlite:///{tmp_path}/records-{attempt}.db", "i-1")
        stores = [open_store(settings) for _ in range(5)]
        try:
            versions = await asyncio.gather(*(s.migrate() for s in stores))
        finally:
            await asyncio.gather(*(s.close() for s in stores))
        assert versions == [latest()] * 5, attempt


async def test_a_call_and_its_legs_round_trip(store: Store) -> None:
    record = a_call(7, error="carrier said busy")
    await store.save_calls([record])
    assert await store.get_call(record.call_id) == record
    assert await store.get_call("call_missing") is None


async def test_records_of_one_call_merge_and_never_go_back(store: Store) -> None:
    created = a_call(1, state="ringing", legs=(), session_id=None, route="+15550100001")
    active = a_call(1, state="active", route=None)
    ended = a_call(1, state="ended", route=None)
    await store.save_calls([created])
    await store.save_calls([active, ended])
    # A late record from earlier in the call's life (another instance's outbound dial record,
    # written after the call was live elsewhere) fills gaps but moves nothing back.
    dial = CallRecord(
        call_id="call_0001",
        state=DIALING,
        direction="outbound",
        mode="bidirectional_translation",
        created_at=T0 - 5,
        instance="i-2",
        legs=(LegRecord("agent", "twilio", "CA0001a"),),
    )
    await store.save_calls([dial])
    stored = await store.get_call("call_0001")
    assert stored is not None
    assert stored.state == "ended"
    assert stored.end_reason == "customer_hangup"
    assert stored.route == "+15550100001"  # only the first record knew it
    assert stored.created_at == T0 - 5  # the earliest creation time
    assert stored.direction == "inbound"
    assert stored.instance == "i-1"
    assert stored.legs == ended.legs  # the agent leg's counters were not reset by the dial


async def test_a_webhook_event_is_stored_once_per_id(store: Store) -> None:
    event = WebhookEvent("evt_1", "session.ended", T0, '{"id":"evt_1"}', "sess_1", "x", "i-1")
    assert await store.add_event(event) is True
    assert await store.add_event(replace(event, received_at=T0 + 60)) is False
    assert await store.add_event(replace(event, event_id="evt_2", session_id="sess_2"))
    assert await store.events("sess_1") == [event]
    assert [e.event_id for e in await store.events()] == ["evt_1", "evt_2"]


async def test_filters_by_time_state_and_end_reason(store: Store) -> None:
    await store.save_calls(
        [
            a_call(1),
            a_call(2, end_reason="agent_unavailable"),
            a_call(3, state="active"),
            a_call(4),
        ]
    )

    async def ids(**query: object) -> list[str]:
        rows = await store.list_calls(CallQuery(**query), fetch=100)  # type: ignore[arg-type]
        return [r.call_id for r in rows]

    assert await ids() == ["call_0004", "call_0003", "call_0002", "call_0001"]
    assert await ids(since=T0 + 2, until=T0 + 4) == ["call_0003", "call_0002"]
    assert await ids(state="active") == ["call_0003"]
    assert await ids(end_reason="customer_hangup") == ["call_0004", "call_0001"]
    assert await ids(state="ended", since=T0 + 2) == ["call_0004", "call_0002"]


async def test_pages_cover_every_call_once_both_ways_even_with_equal_times(store: Store) -> None:
    # 25 calls, with groups created in the same instant: the id breaks the tie.
    calls = [a_call(n, at=T0 + n // 3) for n in range(25)]
    await store.save_calls(calls)
    newest_first = sorted(calls, key=lambda r: r.sort_key, reverse=True)

    async def page(query: CallQuery) -> tuple[list[str], Cursor | None, Cursor | None]:
        fetch = query.limit + 1
        rows = await store.list_calls(query, fetch)
        result = merge_page(rows, len(rows) < fetch, [], query)
        return [r.call_id for r in result.calls], result.before, result.after

    seen: list[str] = []
    ids, before, first_after = await page(CallQuery(limit=10))
    seen += ids
    while before is not None:
        ids, before, _ = await page(CallQuery(limit=10, before=before))
        seen += ids
    assert seen == [r.call_id for r in newest_first]

    # Walking back up with `after` from the oldest call returns the same pages, newest first.
    oldest = Cursor.of(newest_first[-1])
    ids, _, after = await page(CallQuery(limit=10, after=oldest))
    assert ids == [r.call_id for r in newest_first[-11:-1]]
    assert first_after == Cursor.of(newest_first[0])
    assert after == Cursor.of(newest_first[-11])


async def test_calls_of_a_silent_instance_are_ended_once_and_their_own_end_still_wins(
    store: Store,
) -> None:
    base = time.time()  # the store stamps each write with the real time
    dead, live = "i-dead", "i-live"
    await store.save_calls(
        [
            a_call(1, state="active", instance=dead),
            a_call(2, state="active", instance=live),
            a_call(3, instance=dead),  # ended before its instance died
            a_call(4, state=DIALING, instance=dead),  # an outbound dial still ringing
        ]
    )
    await store.heartbeat(dead, base)
    await store.heartbeat(live, base + 200)
    # 200 s on, with 120 s of silence meaning "gone": the dead instance's open calls end.
    swept = await store.end_orphans(base + 200, base + 80)
    assert sorted(swept, key=lambda o: o.call_id) == [
        Orphan("call_0001", dead, "sess_0001", heartbeated=True),
        Orphan("call_0004", dead, "sess_0004", heartbeated=True),
    ]
    record = await store.get_call("call_0001")
    assert record is not None
    assert (record.state, record.end_reason, record.ended_at) == (
        "ended",
        EndReason.INSTANCE_LOST.value,
        base + 200,
    )
    assert record.legs == a_call(1).legs  # what was known of the legs stays
    assert (await store.get_call("call_0002")) == a_call(2, state="active", instance=live)
    assert (await store.get_call("call_0003")) == a_call(3, instance=dead)
    assert await store.end_orphans(base + 300, base + 180) == []  # ended once
    # The instance was only cut off from the database: its own end record heals the row.
    await store.save_calls([a_call(1, end_reason="agent_hangup", instance=dead)])
    assert await store.get_call("call_0001") == a_call(1, end_reason="agent_hangup", instance=dead)


async def test_a_record_newer_than_the_silence_is_no_orphan(store: Store) -> None:
    """An instance writes its first records before its first heartbeat lands, and an old
    bridge (no heartbeats at all) keeps writing during a rolling upgrade: a row written within
    the silence window is left alone whatever its instance."""
    base = time.time()
    await store.save_calls([a_call(1, state="active", instance="i-new")])
    assert await store.end_orphans(base + 60, base - 60) == []
    assert await store.end_orphans(base + 200, base + 80) == [
        Orphan("call_0001", "i-new", "sess_0001", heartbeated=False)  # it never heartbeated
    ]
