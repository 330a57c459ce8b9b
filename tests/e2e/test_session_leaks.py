"""No Kallglot session outlives its call, whatever Kallglot does while the call ends.

Outages are real: the bridge reaches Kallglot through a proxy that refuses connections and
resets the open ones (bridge/sim/outage_proxy.py). Lost answers come from the simulator's
faults: a create committed and then answered 500, a create slower than the bridge's timeout.
Each case ends with every session the simulator created ended exactly once, and nothing owed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from bridge.calls.model import EndReason
from bridge.calls.obligations import SessionState, create_idempotency_key
from bridge.web.keys import SERVICES, STORE
from tests.e2e.conftest import CUSTOMER, SOLO, Stack, StackFactory, bridged_call, metric

APOLOGY = "Leider ist niemand erreichbar."


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == name]


def gauge(stack: Stack) -> float:
    return metric(stack, "bridge_kallglot_sessions_unconfirmed")


async def until(holds: Callable[[], bool]) -> None:
    while not holds():  # noqa: ASYNC110 - log lines have no event to await
        await asyncio.sleep(0.05)


@pytest.mark.long
async def test_sessions_whose_end_fails_in_an_outage_are_ended_once_kallglot_is_back(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack(outages=True)
    assert stack.outage is not None
    ledger = stack.app[SERVICES].sessions
    with capture_logs() as logs:
        async with asyncio.timeout(90):
            calls = [await bridged_call(stack) for _ in range(2)]
            await stack.outage.down()  # Kallglot refuses connections mid-call
            for customer, _, call in calls:
                await call.ended()  # the stream could not come back: apology, teardown
                await customer.wait_said(APOLOGY)
            await until(lambda: len(events(logs, "kallglot_session_end_retry")) >= 2)
            owed_during = gauge(stack)
            await stack.outage.up()
            back = time.monotonic()
            for _, _, call in calls:
                assert call.session is not None
                await stack.kallglot.sessions[call.session.id].wait_ended()
            ended_after_s = time.monotonic() - back
            await ledger.settled()
            await stack.app[STORE].flush()

    print(f"\nboth sessions ended {ended_after_s:.2f} s after Kallglot came back")
    assert ended_after_s < 60
    for _, _, call in calls:
        assert call.end_reason is EndReason.KALLGLOT_FAILED
        assert call.session is not None
        assert stack.kallglot.sessions[call.session.id].ended_transitions == 1
        obligation = await stack.app[STORE].store.get_session(call.id)
        assert obligation is not None
        assert obligation.state is SessionState.ENDED
    assert owed_during == 2
    assert gauge(stack) == 0
    failures = events(logs, "kallglot_rest_end_failed") + events(logs, "kallglot_session_end_retry")
    assert failures
    assert all(e["error"] for e in failures)  # a timeout once logged an empty error


@pytest.mark.parametrize("lost", ["500_after_commit", "slower_than_timeout"])
async def test_a_create_whose_answer_was_lost_is_learnt_and_ended(
    make_stack: StackFactory, lost: str
) -> None:
    if lost == "500_after_commit":
        stack = await make_stack(KALLGLOT_RETRY_TOTAL_S="1")
        # Created and billed, the answer lost; then 503s until the call's retries give up.
        stack.kallglot.faults.fail_next_creates(500, 1, after_commit=True)
        stack.kallglot.faults.fail_next_creates(503, 8, retry_after=0.3)
    else:
        stack = await make_stack(KALLGLOT_RETRY_TOTAL_S="1", KALLGLOT_HTTP_TIMEOUT_S="0.5")
        stack.kallglot.faults.rest_latency_s = 2.0  # Kallglot commits after the bridge gave up
    with capture_logs() as logs:
        async with asyncio.timeout(60):
            customer = await stack.carrier.place_call(CUSTOMER, SOLO, stack.voice_url)
            call = await stack.call_for()
            await call.ended()
            await customer.ended.wait()
            stack.kallglot.faults.rest_latency_s = 0  # the slow spell passes
            await stack.app[SERVICES].sessions.settled()
            await stack.app[STORE].flush()

    made = [s for s in stack.kallglot.sessions.values() if s.metadata.get("call_id") == call.id]
    assert len(made) == 1  # the one the lost create made, learnt by replaying its key
    assert made[0].ended_transitions == 1
    assert stack.kallglot.credits_by_key[create_idempotency_key(call.id)] == 1
    assert call.end_reason is EndReason.KALLGLOT_FAILED
    assert customer.api_updates == ["Twiml"]  # the apology
    assert call.session is None  # the call itself never heard of it
    obligation = await stack.app[STORE].store.get_session(call.id)
    assert obligation is not None
    assert (obligation.state, obligation.session_id) == (SessionState.ENDED, made[0].id)
    (learnt,) = events(logs, "kallglot_session_learnt")
    assert learnt["session_id"] == made[0].id
