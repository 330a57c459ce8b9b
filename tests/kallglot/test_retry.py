from __future__ import annotations

import random

import pytest

from bridge.kallglot.retry import Backoff, server_hint, should_retry

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("status", "code", "retry"),
    [
        (429, None, True),
        (500, None, True),
        (502, None, True),
        (503, None, True),
        (409, "idempotency_conflict", True),
        (409, "resource_exists", False),
        (400, None, False),
        (401, None, False),
        (402, None, False),
        (403, None, False),
        (404, None, False),
        (422, None, False),
    ],
)
def test_what_is_retried(status: int, code: str | None, retry: bool) -> None:
    assert should_retry(status, code) is retry


def test_retry_after_seconds_date_and_rate_limit_reset() -> None:
    assert server_hint(429, {"Retry-After": "0.2"}, NOW) == pytest.approx(0.2)
    assert server_hint(503, {"Retry-After": "Thu, 14 Jan 2027 08:00:10 GMT"}, 1_799_913_600.0) == (
        pytest.approx(10.0)
    )
    assert server_hint(429, {"X-RateLimit-Reset": str(int(NOW) + 7)}, NOW) == pytest.approx(7.0)
    assert server_hint(503, {"X-RateLimit-Reset": str(int(NOW) + 7)}, NOW) is None
    assert server_hint(429, {"Retry-After": "soon"}, NOW) is None
    assert server_hint(429, {"Retry-After": "99999999"}, NOW) == 3600.0


def test_full_jitter_stays_under_the_exponential_cap() -> None:
    backoff = Backoff(base_s=0.25, max_s=8.0)
    rng = random.Random(1)

    for attempt, cap in [(1, 0.25), (2, 0.5), (3, 1.0), (6, 8.0), (40, 8.0)]:
        delays = [backoff.delay(attempt, None, rng) for _ in range(200)]
        assert min(delays) >= 0
        assert max(delays) <= cap
        assert max(delays) > cap / 2  # really spread, not a constant


def test_a_server_hint_is_a_floor() -> None:
    rng = random.Random(2)

    delays = [Backoff(0.25, 8.0).delay(1, 0.2, rng) for _ in range(100)]

    assert min(delays) >= 0.2
    assert max(delays) <= 0.22
