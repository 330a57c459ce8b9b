"""A surviving bridge ends the Kallglot sessions of the calls of an instance that died.

The dead instance is what it looks like to the survivors: its call rows and its stopped
heartbeat in the shared database, and its sessions still open at (the simulated) Kallglot.
The sweep runs on the survivor's own heartbeat, so some waits poll what has no event to await
(a database row, a log line); each is bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from structlog.testing import capture_logs

from bridge.calls.model import EndReason
from bridge.kallglot.models import Session
from bridge.web.keys import ORPHANS, SERVICES
from tests.e2e.conftest import Stack
from tests.store.stack import RecordsStacks, records
from tests.store.support import a_call

DEAD, OLD = "i-dead", "i-old"  # OLD never heartbeated: a bridge from before heartbeats


async def _open_session(stack: Stack) -> Session:
    return await stack.app[SERVICES].kallglot.create_session("bidirectional_translation", "de")


async def _until(holds: Callable[[], bool]) -> None:
    async with asyncio.timeout(10):
        while not holds():  # noqa: ASYNC110 - log lines and request logs have no event
            await asyncio.sleep(0.02)


async def _records_swept(stack: Stack, *call_ids: str) -> None:
    store = records(stack).store
    async with asyncio.timeout(10):
        for call_id in call_ids:
            while (record := await store.get_call(call_id)) is None or record.state != "ended":  # noqa: ASYNC110
                await asyncio.sleep(0.05)


def _events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


async def test_the_sessions_of_a_dead_instance_are_ended_and_an_old_ones_left_alone(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start(BRIDGE_ORPHAN_AFTER_S="0.4")
    dead_session, old_session = await _open_session(stack), await _open_session(stack)
    store = records(stack).store
    with capture_logs() as logs:
        await store.heartbeat(DEAD, time.time() - 600)  # killed ten minutes ago
        await store.save_calls(
            [
                a_call(1, state="active", instance=DEAD, session_id=dead_session.id),
                a_call(2, state="active", instance=OLD, session_id=old_session.id),
                a_call(3, state="ringing", instance=DEAD, session_id=None),  # no session yet
            ]
        )
        async with asyncio.timeout(10):
            await stack.kallglot.sessions[dead_session.id].wait_ended()
            await stack.app[ORPHANS].settled()
        await _records_swept(stack, "call_0001", "call_0002", "call_0003")

    sessions = stack.kallglot.sessions
    assert sessions[dead_session.id].ended_transitions == 1
    assert not sessions[old_session.id].ended  # its bridge may still be serving it
    for call_id in ("call_0001", "call_0002", "call_0003"):
        record = await store.get_call(call_id)
        assert record is not None
        assert record.end_reason == EndReason.INSTANCE_LOST.value
    said = {(e["event"], e.get("call_id")) for e in logs if "session" in e["event"]}
    assert said == {
        ("orphaned_session_ended", "call_0001"),
        ("orphaned_session_left_running", "call_0002"),
    }


async def test_a_session_kallglot_will_not_end_is_reported_and_the_heartbeat_goes_on(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start(BRIDGE_ORPHAN_AFTER_S="0.4", KALLGLOT_RETRY_TOTAL_S="0.5")
    session = await _open_session(stack)
    store = records(stack).store
    stack.kallglot.faults.inactive = True  # 403 on every REST request from now on
    with capture_logs() as logs:
        await store.heartbeat(DEAD, time.time() - 600)
        await store.save_calls([a_call(1, state="active", instance=DEAD, session_id=session.id)])
        await _until(lambda: bool(_events(logs, "orphaned_session_end_failed")))
        # The heartbeat goes on: a call of the dead instance written now is swept too.
        await store.save_calls([a_call(2, state="active", instance=DEAD, session_id=None)])
        await _records_swept(stack, "call_0002")

    assert not stack.kallglot.sessions[session.id].ended
    (failed,) = _events(logs, "orphaned_session_end_failed")
    assert (failed["call_id"], failed["session_id"]) == ("call_0001", session.id)
    assert "POST /v1/sessions/{id}/end" in failed["hint"]


async def test_endings_cut_short_by_shutdown_are_logged_with_their_sessions(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start(BRIDGE_ORPHAN_AFTER_S="0.4")
    session = await _open_session(stack)
    store = records(stack).store
    stack.kallglot.faults.rest_latency_s = 30  # Kallglot answers nothing in time
    end_path = f"/v1/sessions/{session.id}/end"
    with capture_logs() as logs:
        await store.heartbeat(DEAD, time.time() - 600)
        await store.save_calls([a_call(1, state="active", instance=DEAD, session_id=session.id)])
        await _until(lambda: any(path == end_path for _, _, path in stack.kallglot.request_log))
        await stack.app[ORPHANS].close(grace_s=0.1)  # what shutdown does, with a short grace

    assert not stack.kallglot.sessions[session.id].ended
    (cut,) = _events(logs, "orphaned_sessions_not_ended")
    assert cut["sessions"] == [session.id]
