"""The idempotency keys' rules, on a hand-driven clock (bridge/calls/idempotency.py)."""

from __future__ import annotations

from bridge.calls.idempotency import (
    DAY_S,
    Answer,
    Claim,
    Claimed,
    IdempotencyKeys,
    fingerprint,
)

BODY = fingerprint({"to": "+15550100003", "agent": "+15550100002"})
OTHER = fingerprint({"to": "+15550100004", "agent": "+15550100002"})
CREATED = Answer(201, b'{"call_id": "call_1"}')


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_settled_key_replays_its_answer_and_refuses_another_body() -> None:
    keys = IdempotencyKeys(clock=Clock())
    assert keys.claim("k", BODY).claim is Claim.NEW
    assert keys.claim("k", BODY).claim is Claim.IN_PROGRESS
    keys.settle("k", CREATED)
    assert keys.claim("k", BODY) == Claimed(Claim.REPLAY, CREATED)
    assert keys.claim("k", OTHER).claim is Claim.MISMATCH
    assert keys.claim("k", BODY).answer == CREATED  # a mismatch changes nothing


def test_key_order_and_spacing_do_not_make_a_body_different() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": "1"})


def test_a_released_key_is_free_for_the_next_request() -> None:
    keys = IdempotencyKeys(clock=Clock())
    keys.claim("k", BODY)
    keys.release("k")
    assert keys.claim("k", OTHER).claim is Claim.NEW
    keys.settle("k", CREATED)
    keys.release("k")  # a settled key stays settled
    assert keys.claim("k", OTHER).claim is Claim.REPLAY


def test_keys_expire_after_a_day() -> None:
    clock = Clock()
    keys = IdempotencyKeys(clock=clock)
    keys.claim("k", BODY)
    keys.settle("k", CREATED)
    clock.now += DAY_S - 1
    assert keys.claim("k", BODY).claim is Claim.REPLAY
    clock.now += 1
    assert keys.claim("k", OTHER).claim is Claim.NEW
    assert len(keys) == 1


def test_memory_is_bounded_by_dropping_the_oldest_key() -> None:
    clock = Clock()
    keys = IdempotencyKeys(max_keys=3, clock=clock)
    for n in range(5):
        clock.now += 1
        keys.claim(f"k{n}", BODY)
        keys.settle(f"k{n}", CREATED)
    assert len(keys) == 3
    assert keys.evicted == 2
    assert keys.claim("k4", BODY).claim is Claim.REPLAY
    assert keys.claim("k0", OTHER).claim is Claim.NEW  # forgotten: served afresh
