"""What the application holds: records in (non-blocking), records and events out.

The call registry reports each call's lifecycle here (created, active, ended; and outbound
dials that ended before any call existed), the session ledger what is owed for each call's
Kallglot session, and the API reads pages of calls merged with what is live in this process.
Everything written goes through the background `RecordWriter` (an obligation about to matter
is also written at once); `Liveness` heartbeats beside it, ends the records of calls whose
instance died and adopts the session obligations such instances left.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import structlog

from bridge.calls.obligations import Adoption, SessionObligation
from bridge.calls.summary import CallSummary
from bridge.log import describe
from bridge.store.base import Store, StoreUnavailable, open_store
from bridge.store.config import StoreSettings
from bridge.store.liveness import Liveness
from bridge.store.query import CallQuery, Page, merge_page
from bridge.store.records import DIALING, CallRecord
from bridge.store.writer import RecordWriter

if TYPE_CHECKING:
    from bridge.calls.call import Call
    from bridge.calls.outbound import OutboundDial

log = structlog.get_logger(__name__)
STARTUP_WAIT_S = 30.0  # a database still starting (compose, a fresh pod) gets this long
FLUSH_AT_SHUTDOWN_S = 10.0
CLAIM_TIMEOUT_S = 2.0


class CallRecords:
    def __init__(
        self, store: Store, writer: RecordWriter, instance: str, liveness: Liveness
    ) -> None:
        self.store = store
        self.writer = writer
        self.instance = instance
        self._liveness = liveness

    def watch_instances(self, on_adopted: Callable[[Sequence[Adoption]], None]) -> None:
        """Starts heartbeating; what dead instances left is handed to `on_adopted`."""
        self._liveness.start(on_adopted)

    # -- session obligations (bridge.calls.session_ledger.ObligationRecords) -----------------

    def keep(self, obligation: SessionObligation) -> None:
        self.writer.submit(obligation)

    async def keep_now(self, obligation: SessionObligation) -> None:
        await self.store.save_sessions([obligation])

    # -- stream claims (bridge.calls.admission.StreamClaims) ----------------------------------

    async def claim_stream(self, call_id: str, role: str, stream_id: str) -> bool | None:
        try:  # bounded: the carrier's audio queues up meanwhile, the caller waits
            async with asyncio.timeout(CLAIM_TIMEOUT_S):
                return await self.store.claim_stream(
                    call_id, role, self.instance, stream_id, time.time()
                )
        except (StoreUnavailable, TimeoutError) as exc:
            log.warning(
                "stream_claim_unrecorded",
                call_id=call_id,
                leg=role,
                error=describe(exc),
                hint="the call records are unreachable: only this instance will refuse a "
                "replay of this stream's ticket",
            )
            return None

    # -- in: the call registry's hooks (synchronous, never wait on the database) ------------

    def call_created(self, call: Call) -> None:
        self.writer.submit(self.of_call(call))

    def call_progressed(self, call: Call) -> None:
        self.writer.submit(self.of_call(call))

    def call_ended(self, call: Call) -> None:
        self.writer.submit(self.of_call(call))

    def dial_started(self, dial: OutboundDial) -> None:
        self.writer.submit(self.of_summary(dial.summary()))

    async def end_pending_dial(
        self, call_id: str, reason: str, detail: str | None = None
    ) -> CallRecord | None:
        """Ends the record of another instance's outbound dial whose agent has not answered.

        The instance that took `POST /v1/calls` holds the dial in memory, but the call's id
        hashes its status callbacks and `DELETE`s to whichever instance owns that id. Written
        at once, not queued: the hang-up a `DELETE` sends next makes the carrier report the
        agent's call canceled, and that report must find the dial already over. The ended
        record, or None when the call is unknown, past dialling, or this instance's own dial
        (which its in-memory state ends)."""
        record = await self.store.get_call(call_id)
        if record is None or record.state != DIALING or record.instance == self.instance:
            return None
        ended = replace(
            record, state="ended", ended_at=time.time(), end_reason=reason, error=detail
        )
        await self.store.save_calls([ended])
        return ended

    def summary_remembered(self, summary: CallSummary) -> None:
        """A call that ended without going live here (an outbound dial nobody answered)."""
        self.writer.submit(self.of_summary(summary))

    def of_call(self, call: Call) -> CallRecord:
        return self.of_summary(call.summary())

    def of_summary(self, summary: CallSummary) -> CallRecord:
        return CallRecord.from_summary(summary, instance=self.instance)

    # -- out ---------------------------------------------------------------------------------

    async def page(self, query: CallQuery, overlay: list[CallRecord]) -> Page:
        """A page of calls: stored rows, overridden by `overlay` (this instance's live ones)."""
        fetch = query.limit + len(overlay) + 1
        stored = await self.store.list_calls(query, fetch)
        return merge_page(stored, len(stored) < fetch, overlay, query)

    async def get(self, call_id: str) -> CallRecord | None:
        return await self.store.get_call(call_id)

    async def flush(self) -> None:
        """Until everything handed over so far is in the database (tests, shutdown)."""
        await self.writer.flush()


@asynccontextmanager
async def open_call_records(
    settings: StoreSettings, startup_wait_s: float = STARTUP_WAIT_S
) -> AsyncIterator[CallRecords]:
    """Opens and migrates the store and runs the writer (the heartbeat starts with
    `watch_instances`); on exit flushes what is queued."""
    store = open_store(settings)
    try:
        version = await _migrate(store, startup_wait_s)
        log.info("call_records_ready", store=repr(settings), schema_version=version)
        liveness = Liveness(store, settings.instance_id, settings.orphan_after_s)
        await _first_beat(liveness)  # before any record of ours: none may look orphaned
        writer = RecordWriter(store)
        writer.start()
        try:
            yield CallRecords(store, writer, settings.instance_id, liveness)
        finally:
            await liveness.stop()
            await writer.close(FLUSH_AT_SHUTDOWN_S)
    finally:
        await store.close()


async def _first_beat(liveness: Liveness) -> None:
    try:
        await liveness.beat()
    except StoreUnavailable as exc:  # reachable a moment ago (migrate): the loop retries
        log.warning("records_heartbeat_failed", error=str(exc))


async def _migrate(store: Store, wait_s: float) -> int:
    deadline = time.monotonic() + wait_s
    delay = 0.2
    while True:
        try:
            return await store.migrate()
        except StoreUnavailable as exc:
            if time.monotonic() + delay > deadline:
                raise StoreUnavailable(
                    f"call records: cannot reach the database named by BRIDGE_DATABASE_URL ({exc})"
                ) from exc
            log.warning("call_records_waiting_for_database", error=str(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
