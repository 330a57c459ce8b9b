"""Heartbeats and the orphan sweep (bridge/store/liveness.py), on both databases.

A dead instance is simulated the way it looks from the database: its rows are there and its
heartbeat stopped. Waits are on the records themselves, bounded, never on the clock.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from structlog.testing import capture_logs

from bridge.calls.model import EndReason
from bridge.store.base import Orphan, Store
from bridge.store.config import StoreSettings
from bridge.store.liveness import Liveness
from bridge.store.recorder import open_call_records
from tests.store.support import a_call

DEAD, LIVE, OLD = "i-dead", "i-live", "i-old"
LOST = EndReason.INSTANCE_LOST.value


async def _end_reason(store: Store, call_id: str) -> str | None:
    record = await store.get_call(call_id)
    return record.end_reason if record is not None and record.state == "ended" else None


async def test_a_beat_ends_only_the_calls_of_an_instance_silent_too_long(store: Store) -> None:
    now = time.time()
    await store.save_calls(
        [
            a_call(1, state="active", instance=DEAD),
            a_call(2, state="active", instance=LIVE),
            a_call(3, state="ringing", instance=DEAD, session_id=None),
            a_call(4, state="active", instance=OLD),
        ]
    )
    await store.heartbeat(DEAD, now)
    await store.heartbeat(LIVE, now)
    # Two minutes and a second on, the live instance beats (and sweeps); the other never did.
    later = Liveness(store, LIVE, silent_after_s=120, clock=lambda: now + 121)
    orphans = sorted(await later.beat(), key=lambda o: o.call_id)
    assert orphans == [
        Orphan("call_0001", DEAD, "sess_0001", heartbeated=True),
        Orphan("call_0003", DEAD, None, heartbeated=True),
        # Never heartbeated: a bridge from before heartbeats, maybe still serving this call.
        Orphan("call_0004", OLD, "sess_0004", heartbeated=False),
    ]
    for call_id in ("call_0001", "call_0003", "call_0004"):
        assert await _end_reason(store, call_id) == LOST
    assert await _end_reason(store, "call_0002") is None
    assert await later.beat() == []


async def test_a_running_bridge_sweeps_on_its_heartbeat_and_spares_its_own_calls(
    database: StoreSettings,
) -> None:
    settings = replace(database, instance_id=LIVE, orphan_after_s=0.4)
    with capture_logs() as logs:
        async with open_call_records(settings) as records:
            records.watch_instances(lambda _: None)
            store = records.store
            await store.heartbeat(DEAD, time.time() - 600)  # killed ten minutes ago
            records.writer.submit(a_call(1, state="active", instance=LIVE))
            await records.flush()
            await store.save_calls([a_call(2, state="active", instance=DEAD)])
            # Call 2 was written after call 1: once a sweep ends it, that sweep found call 1
            # old enough too, and only this instance's heartbeat kept it open.
            async with asyncio.timeout(10):
                # A database has no event to await: poll the record.
                while await _end_reason(store, "call_0002") is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            own = await store.get_call("call_0001")
            dead = await store.get_call("call_0002")
    assert own is not None
    assert own.state == "active"
    assert dead is not None
    assert dead.end_reason == LOST
    swept = [e for e in logs if e["event"] == "orphaned_calls_ended"]
    assert [(e["calls"], e["instances"]) for e in swept] == [(["call_0002"], [DEAD])]
