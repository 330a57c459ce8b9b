"""`drain` in the process (tests/e2e/test_drain.py signals a real `serve`): what a person at
the terminal is told on the first Ctrl-C, and what the second one does to a live call."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bridge.calls.model import EndReason
from bridge.web.keys import REGISTRY, SERVICES
from bridge.web.shutdown import drain
from tests.e2e.carriers import control
from tests.e2e.conftest import (
    StackFactory,
    assert_cleaned_up,
    bridged_call,
    carrier_name,
    make_stack,
)

__all__ = ["carrier_name", "make_stack"]
APOLOGY = "Leider ist niemand erreichbar."  # the CENTRE route's


async def test_the_first_ctrl_c_says_what_it_waits_for_and_the_second_ends_the_call_now(
    make_stack: StackFactory, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = await make_stack()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a person is watching
    async with asyncio.timeout(20):
        customer, agent, call = await bridged_call(stack)
        registry, end_now = stack.app[REGISTRY], asyncio.Event()
        draining = asyncio.create_task(drain(registry, stack.app[SERVICES].control, 3600, end_now))
        await asyncio.sleep(0)  # one turn: the drain has begun and said so
        told = capsys.readouterr().err
        assert not registry.accepting()
        assert not draining.done()  # waiting for the call, which goes on
        end_now.set()
        await draining
        await assert_cleaned_up(stack, call)
        await customer.wait_said(APOLOGY)
        await agent.wait_said(APOLOGY)

    assert told.startswith("kallglot-bridge: draining: new calls are refused; waiting up to ")
    assert "3600 s (BRIDGE_DRAIN_TIMEOUT) for 1 live call to end" in told
    assert "Press Ctrl-C again" in told
    assert call.end_reason is EndReason.SHUTDOWN
    assert control(customer) == control(agent) == ["redirect"]
