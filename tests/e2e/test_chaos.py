"""Chaos: twenty calls at once while Kallglot comes and goes for some of them.

Twenty two-leg calls run concurrently through one bridge. For twelve of them Kallglot becomes
unreachable for a random 2-20 s window (its REST requests and stream connections are cut
without an answer, its open stream with them): five from their very first request (the create),
seven from a random moment in the call. The first creates are also answered 500 after Kallglot
committed them. Eight calls see no window: the neighbours. The chaos is seeded, so every run
is the same chaos.

At the end, with Kallglot back: every session the simulator created is ended within 60 s (none
leaked, none billed twice), the neighbours lost no frame either way, and each call has exactly
one record whose end reason is what happened to it.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bridge.calls.model import EndReason
from bridge.calls.obligations import SessionState, create_idempotency_key
from bridge.sim.softphone import Phone
from bridge.store.query import CallQuery
from bridge.web.keys import SERVICES, STORE
from tests.e2e.conftest import Stack, StackFactory, metric, mulaw, received

CALLS = 20
AT_CREATE, MID_CALL = 5, 7  # windows; the rest are neighbours
ATTEMPTS = "bridge_kallglot_session_end_attempts_total"
LIVE_S = 20.0  # how long a call runs (from going live) before its customer hangs up
SECOND = 16_000  # bytes of 8 kHz PCM16


def centre(i: int) -> str:
    return f"+1555020{i:04d}"


def agent_number(i: int) -> str:
    return f"+1555030{i:04d}"


@dataclass
class Window:
    at_create: bool
    offset_s: float  # after the call went live (mid-call windows)
    duration_s: float
    started_at: float | None = None  # monotonic
    ended_at: float | None = None


@dataclass
class Outcome:
    index: int
    call_id: str = ""
    window: Window | None = None
    hung_up_by_customer: bool = False
    activated: bool = False
    ended_at: float = 0.0
    phrase_heard: list[bool] = field(default_factory=list)


class Chaos:
    """Decides each call's window when the simulator first sees it, and runs the windows."""

    def __init__(self, stack: Stack, rng: random.Random) -> None:
        self.stack = stack
        plans: list[Window | None] = [
            Window(True, 0.0, rng.uniform(2, 20)) for _ in range(AT_CREATE)
        ] + [Window(False, rng.uniform(1, 6), rng.uniform(2, 20)) for _ in range(MID_CALL)]
        plans += [None] * (CALLS - len(plans))
        rng.shuffle(plans)
        self.plans = plans
        self.windows: dict[str, Window] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self._next = 0

    def on_new_call(self, call_id: str) -> None:
        """Sync, from the simulator, before the call's first create is served."""
        window = self.plans[self._next]
        self._next += 1
        if window is None:
            return
        self.windows[call_id] = window
        if window.at_create:
            self.stack.kallglot.faults.cut_off.add(call_id)
            window.started_at = time.monotonic()
        self.tasks.append(asyncio.create_task(self._run(call_id, window)))

    async def _run(self, call_id: str, window: Window) -> None:
        sim = self.stack.kallglot
        if not window.at_create:
            call = await self.stack.call_for(lambda c: c.id == call_id)
            await asyncio.wait(
                [asyncio.ensure_future(call.activated.wait())], timeout=window.offset_s + 30
            )
            await asyncio.sleep(window.offset_s)
            window.started_at = time.monotonic()
            await sim.cut_off(call_id)
        await asyncio.sleep(window.duration_s)
        sim.restore(call_id)
        window.ended_at = time.monotonic()


@pytest.mark.long
async def test_twenty_calls_through_kallglot_outages_leak_nothing_and_spare_the_neighbours(
    make_stack: StackFactory, customer_speech: bytes, agent_speech: bytes, tmp_path: Path
) -> None:
    routes = tmp_path / "chaos-routes.toml"
    routes.write_text(
        "".join(
            f'[routes."{centre(i)}"]\nagent = "{agent_number(i)}"\n'
            'customer_language = "de"\nagent_language = "en"\n\n'
            for i in range(CALLS)
        )
    )
    stack = await make_stack(BRIDGE_ROUTES=str(routes), BRIDGE_MAX_CALLS="50")
    chaos = Chaos(stack, random.Random(20261204))
    stack.kallglot.faults.on_new_call = chaos.on_new_call
    stack.kallglot.faults.fail_next_creates(500, 6, after_commit=True)
    for i in range(CALLS):
        stack.carrier.add_phone(agent_number(i), Phone(ring_s=0.2))
    said_by_customer = customer_speech[:SECOND]
    said_by_agent = agent_speech[:SECOND]

    async def one_call(i: int) -> Outcome:
        outcome = Outcome(i)
        await asyncio.sleep(0.3 * i)  # callers arrive over six seconds (load shape, not a wait)
        customer = await stack.carrier.place_call(f"+1555040{i:04d}", centre(i), stack.voice_url)
        agent = await stack.carrier.next_call(to=agent_number(i))
        call = await stack.call_for(
            lambda c: c.plan.route is not None and c.plan.route.number == centre(i)
        )
        outcome.call_id = call.id
        live = asyncio.ensure_future(call.activated.wait())
        ended = asyncio.ensure_future(call.ended())
        await asyncio.wait([live, ended], return_when=asyncio.FIRST_COMPLETED)
        outcome.activated = call.activated.is_set()
        if outcome.activated and not ended.done():
            customer.speak(said_by_customer)
            agent.speak(said_by_agent)
        await asyncio.wait([ended], timeout=LIVE_S)
        if not ended.done():
            outcome.hung_up_by_customer = True
            if outcome.activated and call.id not in chaos.windows:  # a neighbour: all arrived?
                outcome.phrase_heard = [
                    mulaw(said_by_customer) in received(agent),
                    mulaw(said_by_agent) in received(customer),
                ]
            await customer.hang_up()
            await ended
        outcome.ended_at = time.monotonic()
        live.cancel()
        await agent.ended.wait()
        return outcome

    async with asyncio.timeout(240):
        outcomes = await asyncio.gather(*(one_call(i) for i in range(CALLS)))
        await asyncio.gather(*chaos.tasks)
        kallglot_back = max(w.ended_at or 0.0 for w in chaos.windows.values())
        async with asyncio.timeout(60):  # with Kallglot back, every session ends
            await stack.app[SERVICES].sessions.settled()
            await stack.kallglot.wait_for(
                lambda sim: all(record.ended for record in sim.sessions.values())
            )
        all_ended_after_s = time.monotonic() - kallglot_back
        await stack.app[STORE].flush()
        records = await stack.app[STORE].store.list_calls(CallQuery(limit=200), 200)

    for outcome in outcomes:
        outcome.window = chaos.windows.get(outcome.call_id)
    neighbours = [o for o in outcomes if o.window is None]
    failed = [o for o in outcomes if not o.hung_up_by_customer]
    print(
        f"\nchaos: {len(chaos.windows)} windows "
        f"({sorted(round(w.duration_s, 1) for w in chaos.windows.values())} s), "
        f"{len(stack.kallglot.sessions)} sessions created, {len(failed)} calls failed, "
        f"all sessions ended {all_ended_after_s:.2f} s after the last window "
        f"(within the 60 s bound), ledger attempts: "
        f"{ {o: metric(stack, ATTEMPTS, outcome=o) for o in ('replayed', 'ended', 'failed')} }"
    )

    # No session leaked or billed twice: one per call, ended exactly once.
    by_call: dict[str, list[str]] = {}
    for record in stack.kallglot.sessions.values():
        by_call.setdefault(str(record.metadata.get("call_id")), []).append(record.id)
        assert record.ended_transitions == 1, record.id
    assert sorted(by_call) == sorted(o.call_id for o in outcomes)
    assert all(len(ids) == 1 for ids in by_call.values()), by_call
    for outcome in outcomes:
        assert stack.kallglot.credits_by_key[create_idempotency_key(outcome.call_id)] == 1
        obligation = await stack.app[STORE].store.get_session(outcome.call_id)
        assert obligation is not None
        assert obligation.state is SessionState.ENDED, obligation
    assert stack.app[SERVICES].sessions.owed == 0

    # The neighbours: live throughout, every frame both ways, ended by their customer.
    assert len(neighbours) == CALLS - AT_CREATE - MID_CALL
    for outcome in neighbours:
        assert outcome.activated, outcome
        assert outcome.hung_up_by_customer, outcome
        assert outcome.phrase_heard == [True, True], outcome
    by_id = {record.call_id: record for record in records}
    for outcome in neighbours:
        record = by_id[outcome.call_id]
        assert sum(leg.frames_lost for leg in record.legs) == 0, record
        session_id = by_call[outcome.call_id][0]
        assert stack.kallglot.sessions[session_id].connections == 1  # never disturbed

    # One record per call, and its end reason is what happened.
    assert len(records) == CALLS
    assert sorted(by_id) == sorted(o.call_id for o in outcomes)
    for outcome in outcomes:
        record = by_id[outcome.call_id]
        if outcome.hung_up_by_customer:
            assert record.end_reason == EndReason.CUSTOMER_HANGUP.value, (outcome, record)
        else:  # it ended on its own: only Kallglot being gone may have ended it
            assert record.end_reason == EndReason.KALLGLOT_FAILED.value, (outcome, record)
            window = outcome.window
            assert window is not None, outcome
            assert window.started_at is not None
            assert window.started_at <= outcome.ended_at, (outcome, window)
