"""A surviving bridge adopts and ends the Kallglot sessions other instances left owed.

A dead instance is what it looks like to the survivors: its call rows, its session obligations
and its stopped heartbeat in the shared database, and its sessions still open at (the
simulated) Kallglot. Adoption runs on the survivor's own heartbeat, so some waits poll what has
no event to await (a database row, a log line); each is bounded.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from structlog.testing import capture_logs

from bridge.calls.model import EndReason
from bridge.calls.obligations import (
    SessionObligation,
    SessionState,
    create_idempotency_key,
)
from bridge.kallglot.models import Session
from bridge.kallglot.rest import session_body
from bridge.web.keys import SERVICES
from tests.e2e.conftest import Stack, metric
from tests.store.stack import RecordsStacks, records
from tests.store.support import a_call

DEAD, OLD = "i-dead", "i-old"  # OLD never heartbeated: a bridge from before heartbeats
LONG_AGO = time.time() - 600


async def _open_session(stack: Stack, key: str | None = None) -> Session:
    client = stack.app[SERVICES].kallglot
    return await client.create_session("bidirectional_translation", "de", idempotency_key=key)


async def _until(holds: Callable[[], bool]) -> None:
    async with asyncio.timeout(20):
        while not holds():  # noqa: ASYNC110 - log lines and request logs have no event
            await asyncio.sleep(0.02)


async def _obligation(stack: Stack, call_id: str, state: SessionState) -> SessionObligation:
    store = records(stack).store
    async with asyncio.timeout(20):
        while (found := await store.get_session(call_id)) is None or found.state != state:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    return found


async def _records_swept(stack: Stack, *call_ids: str) -> None:
    store = records(stack).store
    async with asyncio.timeout(10):
        for call_id in call_ids:
            while (record := await store.get_call(call_id)) is None or record.state != "ended":  # noqa: ASYNC110
                await asyncio.sleep(0.05)


def _events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


def _owed(call_id: str, state: SessionState, **fields: Any) -> SessionObligation:
    return SessionObligation(call_id, state, DEAD, LONG_AGO, LONG_AGO, **fields)


async def test_the_sessions_of_a_dead_instances_calls_are_ended_and_an_old_ones_left_alone(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start(BRIDGE_ORPHAN_AFTER_S="0.4")
    dead_session, old_session = await _open_session(stack), await _open_session(stack)
    store = records(stack).store
    with capture_logs() as logs:
        await store.heartbeat(DEAD, LONG_AGO)  # killed ten minutes ago
        await store.save_calls(
            [  # calls only: written by a bridge from before session obligations
                a_call(1, state="active", instance=DEAD, session_id=dead_session.id),
                a_call(2, state="active", instance=OLD, session_id=old_session.id),
                a_call(3, state="ringing", instance=DEAD, session_id=None),  # no session yet
            ]
        )
        async with asyncio.timeout(10):
            await stack.kallglot.sessions[dead_session.id].wait_ended()
        await _records_swept(stack, "call_0001", "call_0002", "call_0003")
        ended = await _obligation(stack, "call_0001", SessionState.ENDED)

    sessions = stack.kallglot.sessions
    assert sessions[dead_session.id].ended_transitions == 1
    assert not sessions[old_session.id].ended  # its bridge may still be serving it
    for call_id in ("call_0001", "call_0002", "call_0003"):
        record = await store.get_call(call_id)
        assert record is not None
        assert record.end_reason == EndReason.INSTANCE_LOST.value
    assert (ended.owner, ended.session_id, ended.attempts) == ("bridge-test", dead_session.id, 1)
    assert await store.get_session("call_0002") is None
    (adopted,) = _events(logs, "kallglot_session_adopted")
    assert (adopted["call_id"], adopted["previous_owner"]) == ("call_0001", None)
    (left,) = _events(logs, "orphaned_session_left_running")
    assert left["call_id"] == "call_0002"


async def test_a_dead_instances_obligations_are_adopted_and_an_unknown_create_is_learnt(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start(BRIDGE_ORPHAN_AFTER_S="0.4")
    open_session = await _open_session(stack)
    # The dead instance had sent this create when it died: Kallglot made the session, the
    # instance never heard its id.
    body = session_body("bidirectional_translation", "de", "en", {"call_id": "call_0011"})
    unheard = await stack.app[SERVICES].kallglot.create_session_from_body(
        body, idempotency_key=create_idempotency_key("call_0011")
    )
    store = records(stack).store
    with capture_logs() as logs:
        await store.heartbeat(DEAD, LONG_AGO)
        await store.save_sessions(
            [
                _owed("call_0010", SessionState.OPEN, session_id=open_session.id),
                _owed("call_0011", SessionState.CREATING, create_body=json.dumps(body)),
                _owed("call_0012", SessionState.ENDED, session_id="sess_settled"),
            ]
        )
        learnt = await _obligation(stack, "call_0011", SessionState.ENDED)
        ended = await _obligation(stack, "call_0010", SessionState.ENDED)

    assert learnt.session_id == unheard.id
    assert ended.session_id == open_session.id
    for session in (open_session, unheard):
        assert stack.kallglot.sessions[session.id].ended_transitions == 1
    key = create_idempotency_key("call_0011")
    assert stack.kallglot.credits_by_key[key] == 1  # the replay billed nothing
    assert {e["previous_owner"] for e in _events(logs, "kallglot_session_adopted")} == {DEAD}
    assert sorted(e["call_id"] for e in _events(logs, "kallglot_session_adopted")) == [
        "call_0010",
        "call_0011",
    ]
    assert [e["call_id"] for e in _events(logs, "kallglot_session_learnt")] == ["call_0011"]


async def test_a_session_kallglot_will_not_end_is_retried_until_it_does(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start(BRIDGE_ORPHAN_AFTER_S="0.4", KALLGLOT_RETRY_TOTAL_S="0.5")
    session = await _open_session(stack)
    store = records(stack).store
    stack.kallglot.faults.inactive = True  # 403 on every REST request from now on
    with capture_logs() as logs:
        await store.heartbeat(DEAD, LONG_AGO)
        await store.save_sessions([_owed("call_0001", SessionState.OPEN, session_id=session.id)])
        await _until(lambda: len(_events(logs, "kallglot_session_end_retry")) >= 2)
        # The heartbeat goes on meanwhile: a call of the dead instance written now is swept.
        await store.save_calls([a_call(2, state="active", instance=DEAD, session_id=None)])
        await _records_swept(stack, "call_0002")
        owed = await store.get_session("call_0001")
        stack.kallglot.faults.inactive = False  # Kallglot takes the key again
        ended = await _obligation(stack, "call_0001", SessionState.ENDED)

    assert owed is not None
    assert owed.state is SessionState.ENDING
    assert owed.last_error is not None
    assert "403" in owed.last_error
    retries = _events(logs, "kallglot_session_end_retry")
    assert [e["attempt"] for e in retries[:2]] == [1, 2]
    assert all(e["session_id"] == session.id and "403" in e["error"] for e in retries)
    assert stack.kallglot.sessions[session.id].ended_transitions == 1
    assert ended.attempts == len(retries) + 1
    attempts = "bridge_kallglot_session_end_attempts_total"
    assert metric(stack, attempts, outcome="ended") == 1
    assert metric(stack, attempts, outcome="failed") == len(retries)


async def test_what_shutdown_cut_short_is_adopted_by_the_next_start_under_the_same_id(
    stacks: RecordsStacks,
) -> None:
    stack = await stacks.start(BRIDGE_ORPHAN_AFTER_S="30")
    session = await _open_session(stack)
    stack.kallglot.faults.rest_latency_s = 30  # Kallglot answers nothing in time
    end_path = f"/v1/sessions/{session.id}/end"
    with capture_logs() as logs:
        stack.app[SERVICES].sessions.unconfirmed("call_0001", session.id, "test: Kallglot down")
        await _until(lambda: any(path == end_path for _, _, path in stack.kallglot.request_log))
        await stack.bridge.close()  # shutdown: a 5 s grace, then the ending is cut short
        stack.kallglot.faults.rest_latency_s = 0
        (left,) = _events(logs, "kallglot_sessions_left_unconfirmed")
        assert left["calls"] == ["call_0001"]
        assert not stack.kallglot.sessions[session.id].ended
        restarted = await stacks.start(BRIDGE_ORPHAN_AFTER_S="30", reuse=stack)
        ended = await _obligation(restarted, "call_0001", SessionState.ENDED)

    assert stack.kallglot.sessions[session.id].ended_transitions == 1
    assert ended.owner == "bridge-test"
    (adopted,) = _events(logs, "kallglot_session_adopted")
    assert adopted["previous_owner"] == "bridge-test"
