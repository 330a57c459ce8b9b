"""The call's lifecycle, walked transition by transition without a socket or a task."""

from __future__ import annotations

import pytest

from bridge.calls.lifecycle import (
    Activate,
    Dial,
    Finished,
    Lifecycle,
    ReportProgress,
    StartKallglot,
    Teardown,
    WatchAnswer,
)
from bridge.calls.model import CallState, EndReason, Role

CUSTOMER, AGENT = Role.CUSTOMER, Role.AGENT
BOTH = (CUSTOMER, AGENT)


def inbound() -> Lifecycle:
    """A customer calls in; the call dials the agent."""
    return Lifecycle(BOTH, to_dial=(AGENT,))


def test_an_inbound_call_rings_bridges_dials_and_goes_live_when_all_is_up() -> None:
    life = inbound()
    assert life.state is CallState.RINGING
    assert life.leg_attached(CUSTOMER) == [StartKallglot(), Dial(AGENT)]
    assert life.state is CallState.BRIDGING
    assert life.dialled(AGENT) == [WatchAnswer(AGENT)]
    assert life.kallglot_is_ready() == [ReportProgress()]  # the agent still rings
    assert life.state is CallState.BRIDGING
    assert life.leg_attached(AGENT) == [Activate()]
    assert life.state is CallState.ACTIVE


def test_kallglot_ready_last_activates_instead_of_reporting_progress() -> None:
    life = inbound()
    life.leg_attached(CUSTOMER)
    life.dialled(AGENT)
    assert life.leg_attached(AGENT) == []  # Kallglot is not ready yet
    assert life.kallglot_is_ready() == [Activate()]


def test_an_outbound_call_dials_the_customer_once_the_agent_is_up() -> None:
    life = Lifecycle(BOTH, to_dial=(CUSTOMER,))
    assert life.leg_attached(AGENT) == [StartKallglot(), Dial(CUSTOMER)]


def test_a_one_leg_call_goes_live_with_its_only_leg() -> None:
    life = Lifecycle((CUSTOMER,), to_dial=())
    assert life.leg_attached(CUSTOMER) == [StartKallglot()]
    assert life.kallglot_is_ready() == [Activate()]


def test_a_dial_answered_before_the_carrier_said_it_rings_is_not_watched() -> None:
    life = inbound()
    life.leg_attached(CUSTOMER)
    life.leg_attached(AGENT)
    assert life.dialled(AGENT) == []


@pytest.mark.parametrize(
    ("event", "reason", "apologize"),
    [
        (lambda life: life.dial_failed(AGENT, "busy"), EndReason.AGENT_UNAVAILABLE, (CUSTOMER,)),
        (
            lambda life: life.unanswered(AGENT, "no-answer"),
            EndReason.AGENT_UNAVAILABLE,
            (CUSTOMER,),
        ),
        (lambda life: life.unanswered(AGENT, "timeout"), EndReason.AGENT_UNAVAILABLE, (CUSTOMER,)),
        (lambda life: life.hung_up(CUSTOMER), EndReason.CUSTOMER_HANGUP, ()),
        (
            lambda life: life.kallglot_gone(EndReason.KALLGLOT_FAILED, "down", apologize=True),
            EndReason.KALLGLOT_FAILED,
            BOTH,
        ),
        (
            lambda life: life.kallglot_gone(EndReason.KALLGLOT_ENDED, "ended", apologize=False),
            EndReason.KALLGLOT_ENDED,
            (),
        ),
        (lambda life: life.end(EndReason.API_HANGUP), EndReason.API_HANGUP, ()),
    ],
    ids=[
        "dial-failed",
        "no-answer",
        "watch-ran-out",
        "hang-up",
        "kallglot-failed",
        "kallglot-ended",
        "api",
    ],
)
def test_whatever_ends_a_bridging_call_decides_the_reason_and_the_apology(
    event, reason: EndReason, apologize: tuple[Role, ...]
) -> None:
    life = inbound()
    life.leg_attached(CUSTOMER)
    (teardown,) = event(life)
    assert isinstance(teardown, Teardown)
    assert (teardown.reason, teardown.apologize) == (reason, apologize)
    assert life.state is CallState.ENDING
    assert life.torn_down() == [Finished(reason)]
    assert life.state is CallState.ENDED


def test_the_first_end_wins_and_later_ones_join_it() -> None:
    life = inbound()
    life.leg_attached(CUSTOMER)
    life.leg_attached(AGENT)
    life.kallglot_is_ready()
    (first,) = life.hung_up(AGENT, "completed")
    assert first == Teardown(EndReason.AGENT_HANGUP, (), "completed")
    assert life.hung_up(CUSTOMER) == []
    assert life.end(EndReason.SHUTDOWN) == []
    assert life.kallglot_gone(EndReason.KALLGLOT_FAILED, "x", apologize=True) == []
    assert life.torn_down() == [Finished(EndReason.AGENT_HANGUP)]


def test_a_leg_that_is_up_is_never_unanswered() -> None:
    life = inbound()
    life.leg_attached(CUSTOMER)
    life.leg_attached(AGENT)
    assert life.unanswered(AGENT, "timeout") == []  # the watch fired after the answer
    assert life.state is CallState.BRIDGING


def test_nothing_starts_once_the_call_is_ending() -> None:
    life = inbound()
    life.leg_attached(CUSTOMER)
    life.end(EndReason.DRAIN_TIMEOUT)
    assert life.leg_attached(AGENT) == []
    assert life.kallglot_is_ready() == []
    assert life.dialled(AGENT) == []
    assert life.state is CallState.ENDING


def test_a_call_can_end_before_any_leg_is_up() -> None:
    life = inbound()
    assert life.end(EndReason.SHUTDOWN) == [Teardown(EndReason.SHUTDOWN, (), None)]
    assert life.torn_down() == [Finished(EndReason.SHUTDOWN)]


def test_torn_down_without_a_teardown_is_a_bug() -> None:
    with pytest.raises(AssertionError):
        inbound().torn_down()
