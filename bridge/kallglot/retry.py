"""When to retry a REST call and how long to wait: pure functions, no I/O, no clock of their own.

Full jitter (a uniform draw between 0 and the exponential cap) because many bridge processes
retrying after one Kallglot blip would otherwise return in lock-step and cause the next blip. A
server hint (Retry-After, X-RateLimit-Reset) is a floor, never shortened by jitter.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

# 504 is not in the docs' table, but a gateway timeout is as transient as a 502.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_CODES = frozenset({"idempotency_conflict"})
MAX_HINT_S = 3600.0


def should_retry(status: int, code: str | None) -> bool:
    return status in RETRY_STATUSES or (status == 409 and code in RETRY_CODES)


def server_hint(status: int, headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asked us to wait, from Retry-After or (on 429) X-RateLimit-Reset."""
    hint = _retry_after(headers.get("Retry-After"), now)
    if hint is None and status == 429:
        reset = _number(headers.get("X-RateLimit-Reset"))
        if reset is not None and reset > 1e9:  # a Unix time, as the docs say
            hint = max(0.0, reset - now)
    return None if hint is None else min(hint, MAX_HINT_S)


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        return None
    return value if value >= 0 and value == value and value != float("inf") else None


def _retry_after(raw: str | None, now: float) -> float | None:
    """Retry-After is delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    seconds = _number(raw)
    if seconds is not None or raw is None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class Backoff:
    base_s: float
    max_s: float
    hint_jitter: float = 0.1  # spread clients that got the same Retry-After by up to 10 %

    def delay(self, attempt: int, hint: float | None, rng: random.Random) -> float:
        """Delay before retry number `attempt` (1 = the first retry)."""
        if hint is not None:
            return hint + rng.uniform(0, hint * self.hint_jitter)
        cap = min(self.max_s, self.base_s * 2 ** min(attempt - 1, 30))
        return rng.uniform(0, cap)
