"""Idempotency keys for `POST /v1/calls`: a retried request gets the first answer, not a 2nd dial.

A client that times out on `POST /v1/calls` cannot tell whether the agent's phone is ringing.
With an `Idempotency-Key` it can simply send the same request again: the first request with a
key claims it, and what it answered is kept for `ttl_s` (24 h, as Stripe and Kallglot keep
theirs) and handed to every retry. The same key on a different body is a client bug (a key
reused for another call), refused rather than silently answered with the wrong call.

Sans-I/O: the handler asks `claim`, dials or not, then `settle`s or `release`s; time comes
from an injected monotonic clock. The memory is bounded: at `max_keys` the oldest key is
dropped before its time (and counted in `evicted`), which only weakens the guarantee for
retries of requests that many calls old.

Per instance: `POST /v1/calls` may reach any instance, and a retry that lands on another is new
there. A cluster-wide guarantee would claim the key in the shared call records (a row inserted
if absent before dialling, in both stores) instead of here; this class's claim/settle/release
is the interface such a store would take over.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

DAY_S = 24 * 3600.0
MAX_KEYS = 10_000  # a kept answer is under 1 KB: at most about 10 MB


class Claim(Enum):
    NEW = "new"  # the key is this request's now: go ahead, then settle or release it
    REPLAY = "replay"  # answered before: send `Claimed.answer` again
    MISMATCH = "mismatch"  # the key was used for a different body
    IN_PROGRESS = "in_progress"  # the first request with this key has not been answered yet


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer as it was sent: status and the exact body bytes."""

    status: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Claimed:
    claim: Claim
    answer: Answer | None = None  # set for REPLAY


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    at: float
    answer: Answer | None = None


def fingerprint(body: Mapping[str, Any]) -> str:
    """The request body's identity: key order and whitespace do not make a body different."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(slots=True)
class IdempotencyKeys:
    ttl_s: float = DAY_S
    max_keys: int = MAX_KEYS
    clock: Callable[[], float] = time.monotonic
    evicted: int = 0  # keys dropped before their time because `max_keys` were held
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)

    def __len__(self) -> int:
        return len(self._entries)

    def claim(self, key: str, body_fingerprint: str) -> Claimed:
        now = self.clock()
        self._expire(now)
        entry = self._entries.get(key)
        if entry is None:
            while len(self._entries) >= self.max_keys:
                self._entries.popitem(last=False)
                self.evicted += 1
            self._entries[key] = _Entry(body_fingerprint, now)
            return Claimed(Claim.NEW)
        if entry.fingerprint != body_fingerprint:
            return Claimed(Claim.MISMATCH)
        if entry.answer is None:
            return Claimed(Claim.IN_PROGRESS)
        return Claimed(Claim.REPLAY, entry.answer)

    def settle(self, key: str, answer: Answer) -> None:
        """The claimed request's answer, kept for its retries (until the key expires)."""
        entry = self._entries.get(key)
        if entry is not None and entry.answer is None:
            entry.answer = answer

    def release(self, key: str) -> None:
        """The claimed request ended without acting (nothing was dialled): the key is free
        again, so a corrected or later retry with it is served afresh."""
        entry = self._entries.get(key)
        if entry is not None and entry.answer is None:
            del self._entries[key]

    def _expire(self, now: float) -> None:
        # Entries are in claim order, so the expired ones are at the front.
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if now - oldest.at < self.ttl_s:
                break
            self._entries.popitem(last=False)
