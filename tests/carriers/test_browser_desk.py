"""Ringing consoles (bridge/carriers/browser/desk.py): answers, declines, time-outs, tickets."""

from __future__ import annotations

import asyncio

import pytest

from bridge.carriers.browser import AnswerRefused, Desk, RingState
from bridge.carriers.browser.desk import OPEN_WITHIN_S
from bridge.carriers.interface import CallStatus, StatusChanged, StreamTarget

TARGET = StreamTarget("ws://bridge/browser/media/call_1", {"ticket": "t.s"})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def desk_with_statuses() -> tuple[Desk, Clock, asyncio.Queue[StatusChanged]]:
    clock, statuses = Clock(), asyncio.Queue[StatusChanged]()
    desk = Desk(clock)

    async def notify(change: StatusChanged) -> None:
        statuses.put_nowait(change)

    desk.connect(notify)
    return desk, clock, statuses


async def test_an_answer_is_reported_and_its_ticket_opens_one_stream_within_a_minute() -> None:
    desk, clock, statuses = await desk_with_statuses()
    leg = desk.ring("alice", "call_1", "agent", TARGET, timeout_s=30)
    assert [r.id for r in desk.ringing("alice")] == [leg]
    assert desk.ringing("bob") == []
    with pytest.raises(AnswerRefused) as foreign:
        desk.answer("call_1", "bob")
    assert foreign.value.status == 404
    assert desk.leg_refusal(leg, "call_1") == "the call was not answered"

    ring = desk.answer("call_1", "alice")
    change = await statuses.get()
    assert (change.status, change.call_id, change.role, change.carrier_call_id) == (
        CallStatus.ANSWERED,
        "call_1",
        "agent",
        leg,
    )
    with pytest.raises(AnswerRefused) as second_tab:
        desk.answer("call_1", "alice")
    assert second_tab.value.status == 409
    assert desk.leg_refusal(leg, "call_2") is not None  # a ticket for another call's path
    clock.now += OPEN_WITHIN_S + 1
    assert "expired" in (desk.leg_refusal(leg, "call_1") or "")
    clock.now -= 2
    assert desk.leg_refusal(leg, "call_1") is None
    assert ring.state is RingState.OPEN
    assert "used already" in (desk.leg_refusal(leg, "call_1") or "")
    await desk.close()


async def test_a_decline_is_busy_and_a_ring_nobody_answers_is_no_answer() -> None:
    desk, _, statuses = await desk_with_statuses()
    desk.ring("alice", "call_1", "agent", TARGET, timeout_s=30)
    desk.decline("call_1", "alice")
    assert (await statuses.get()).status is CallStatus.BUSY
    with pytest.raises(AnswerRefused) as late:
        desk.answer("call_1", "alice")
    assert late.value.status == 410

    desk.ring("alice", "call_2", "agent", TARGET, timeout_s=0.01)
    async with asyncio.timeout(5):
        assert (await statuses.get()).status is CallStatus.NO_ANSWER
    assert desk.ringing("alice") == []
    await desk.close()


async def test_the_bridge_hanging_up_a_ringing_console_cancels_it() -> None:
    desk, _, statuses = await desk_with_statuses()
    leg = desk.ring("alice", "call_1", "agent", TARGET, timeout_s=30)
    desk.hang_up(leg)
    assert (await statuses.get()).status is CallStatus.CANCELED
    assert desk.ringing("alice") == []
    await desk.close()
