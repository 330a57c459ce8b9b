"""What `GET /v1/calls` asks for: time window, state, end reason, and a page of it.

Pages are keyed by (created time, call id), newest first, so a page boundary stays put while new
calls arrive (offsets would shift). Cursors are opaque to clients: they pass back what they got.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bridge.calls.model import EndReason
from bridge.store.records import STATES, CallRecord

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    created_at: float
    call_id: str

    @classmethod
    def of(cls, record: CallRecord) -> Cursor:
        return cls(record.created_at, record.call_id)

    def encode(self) -> str:
        # repr() of a float round-trips exactly, so the boundary row compares equal in the DB.
        raw = f"{self.created_at!r}|{self.call_id}".encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raises ValueError for anything that is not a cursor this API handed out."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("not a cursor") from None
        created, sep, call_id = raw.partition("|")
        if not sep or not call_id or not math.isfinite(moment := float(created)):
            raise ValueError("not a cursor")
        return cls(moment, call_id)


@dataclass(frozen=True, slots=True)
class CallQuery:
    since: float | None = None  # created at or after (unix seconds)
    until: float | None = None  # created before
    state: str | None = None
    end_reason: str | None = None
    before: Cursor | None = None  # strictly older than this row
    after: Cursor | None = None  # strictly newer than this row
    limit: int = DEFAULT_LIMIT

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}")
        if self.before is not None and self.after is not None:
            raise ValueError("give 'before' or 'after', not both")

    def matches(self, record: CallRecord) -> bool:
        """The same filter the store applies in SQL, for records that never went through it."""
        key = Cursor.of(record)
        return (
            (self.since is None or record.created_at >= self.since)
            and (self.until is None or record.created_at < self.until)
            and (self.state is None or record.state == self.state)
            and (self.end_reason is None or record.end_reason == self.end_reason)
            and (self.before is None or key < self.before)
            and (self.after is None or key > self.after)
        )


class QueryError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def query_from_params(params: Mapping[str, str]) -> CallQuery:
    """The query in `GET /v1/calls?...`; QueryError names the parameter and what is valid."""
    known = {"since", "until", "status", "end_reason", "limit", "before", "after"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise QueryError(unknown[0], f"unknown parameter {unknown[0]!r}; known: {sorted(known)}")
    state = params.get("status")
    if state is not None and state not in STATES:
        raise QueryError("status", f"'status' must be one of {list(STATES)}")
    end_reason = params.get("end_reason")
    if end_reason is not None and end_reason not in {r.value for r in EndReason}:
        raise QueryError(
            "end_reason", f"'end_reason' must be one of {[r.value for r in EndReason]}"
        )
    try:
        limit = int(params.get("limit", DEFAULT_LIMIT))
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError("limit", f"'limit' must be a whole number in 1..{MAX_LIMIT}")
    if "before" in params and "after" in params:
        raise QueryError("before", "give 'before' or 'after', not both")
    return CallQuery(
        since=_time(params, "since"),
        until=_time(params, "until"),
        state=state,
        end_reason=end_reason,
        before=_cursor(params, "before"),
        after=_cursor(params, "after"),
        limit=limit,
    )


def _time(params: Mapping[str, str], name: str) -> float | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(
            name, f"{name!r} must be an ISO-8601 time like 2026-01-31T09:30:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # no zone given: UTC, like every time we report
    return moment.timestamp()


def _cursor(params: Mapping[str, str], name: str) -> Cursor | None:
    value = params.get(name)
    if value is None:
        return None
    try:
        return Cursor.decode(value)
    except ValueError:
        raise QueryError(
            name, f"{name!r} must be a cursor from a previous page's 'before' or 'after'"
        ) from None


@dataclass(frozen=True, slots=True)
class Page:
    calls: tuple[CallRecord, ...]  # newest first
    before: Cursor | None  # pass as `before` for the next older page; None: no older calls
    after: Cursor | None  # pass as `after` for newer calls (None on an empty page)


def merge_page(
    stored: list[CallRecord], stored_complete: bool, overlay: list[CallRecord], query: CallQuery
) -> Page:
    """One page from stored rows and this instance's in-memory calls, which override them.

    `stored` must hold at least `limit + len(overlay) + 1` rows in query order unless
    `stored_complete` (the store had no more): then every row the page can need is present even
    after the overlaid ones are taken out. A stored row more advanced than the overlay's copy
    (the call went live on another instance) wins over it.
    """
    best: dict[str, CallRecord] = {r.call_id: r for r in stored}
    for record in overlay:
        best[record.call_id] = record.over(best.get(record.call_id))
    rows = sorted(
        (r for r in best.values() if query.matches(r)),
        key=lambda r: r.sort_key,
        reverse=query.after is None,
    )
    more = len(rows) > query.limit or not stored_complete
    rows = rows[: query.limit]
    if query.after is not None:
        rows.reverse()
    page = tuple(rows)
    older = query.after is not None or more
    return Page(
        calls=page,
        before=Cursor.of(page[-1]) if page and older else None,
        after=Cursor.of(page[0]) if page else None,
    )
