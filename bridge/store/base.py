"""The one interface both databases implement, and the error that means "try again later".

`StoreUnavailable` is the line the writer acts on: the database cannot be reached (down,
locked, out of connections), so the same write is retried later. Any other exception means
the write itself was refused, and retrying it would only block the records behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bridge.calls.obligations import Adoption, SessionObligation
from bridge.store.config import StoreSettings
from bridge.store.migrations import MIGRATIONS, Migration
from bridge.store.query import CallQuery
from bridge.store.records import CallRecord, WebhookEvent


@dataclass(frozen=True, slots=True)
class Orphan:
    call_id: str
    instance: str | None
    session_id: str | None  # its Kallglot session, if it had one by its last record
    # The instance had heartbeated, so it is known to have died. An instance that never did
    # (absent, or a bridge from before heartbeats, mid rolling upgrade) may still be serving.
    heartbeated: bool


class StoreUnavailable(Exception):
    """The database could not be reached; the operation may succeed if retried later."""


class Store(Protocol):
    async def migrate(self, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
        """Applies pending migrations (exactly once across instances); the schema version."""

    async def save_calls(self, records: Sequence[CallRecord]) -> None:
        """Upserts the calls and their legs, in one transaction."""

    async def add_event(self, event: WebhookEvent) -> bool:
        """Stores a webhook event; False when its id was stored before (a redelivery)."""

    async def get_call(self, call_id: str) -> CallRecord | None: ...

    async def list_calls(self, query: CallQuery, fetch: int) -> list[CallRecord]:
        """Up to `fetch` records matching `query`, in page order (see sql.select_calls)."""

    async def events(self, session_id: str | None = None) -> list[WebhookEvent]:
        """Stored webhook events, oldest first; only one session's when `session_id` is given."""

    async def heartbeat(self, instance: str, at: float) -> None:
        """Records that `instance` was alive at `at` (unix seconds)."""

    async def end_orphans(self, at: float, silent_since: float) -> list[Orphan]:
        """Ends (as of `at`) the records of calls whose instance has been silent since
        `silent_since`; the calls this sweep ended (another instance's sweep may get some).
        In the same transaction, a session such a call names gets an ownerless obligation
        (if it has none) when its instance had heartbeated, so that an instance adopts it."""

    async def save_sessions(self, obligations: Sequence[SessionObligation]) -> None:
        """Upserts session obligations (merged by state rank, like calls)."""

    async def get_session(self, call_id: str) -> SessionObligation | None: ...

    async def adopt_sessions(
        self, instance: str, at: float, silent_since: float, *, own: bool
    ) -> list[Adoption]:
        """Makes `instance` the owner of every unsettled obligation nobody works on (see
        sql.ADOPT_SESSIONS; `own`: also those `instance` itself left in a previous life)."""

    async def claim_stream(
        self, call_id: str, role: str, instance: str, stream_id: str, at: float
    ) -> bool:
        """Records that a media stream attached for `role` of `call_id`; False when one already
        had (its ticket was used)."""

    async def prune_claims(self, before: float) -> None:
        """Forgets stream claims made before `before` (their tickets have long expired)."""

    async def close(self) -> None: ...


def open_store(settings: StoreSettings) -> Store:
    """The store BRIDGE_DATABASE_URL names; connects lazily (on `migrate` or first use)."""
    if settings.is_postgres:
        from bridge.store.postgres import PostgresStore

        return PostgresStore(settings.database_url)
    from bridge.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)
