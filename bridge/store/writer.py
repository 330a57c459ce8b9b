"""Hands call records to the database without anyone waiting for it.

`submit()` is synchronous and never blocks: call lifecycle code runs beside the audio, and a
slow database must not become a slow call. One background task drains the queue in batches.
While the database is unreachable it keeps retrying the batch in hand (with backoff) and logs
once per outage; the queue is bounded, so past `max_queue` new records are dropped and counted
rather than growing memory without limit. A write the database refuses outright (not an
outage) is logged and dropped, so one bad record cannot hold up every record behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

import structlog

from bridge.calls.obligations import SessionObligation
from bridge.store.base import Store, StoreUnavailable
from bridge.store.records import CallRecord

log = structlog.get_logger(__name__)
DEFAULT_MAX_QUEUE = 10_000
DEFAULT_BATCH = 100
DEFAULT_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)  # then every 5 s
DROP_LOG_EVERY = 1000
Record = CallRecord | SessionObligation  # a call, or what is owed for its Kallglot session


@dataclass(slots=True)
class WriterStats:
    submitted: int = 0
    written: int = 0
    dropped: int = 0  # queue full (the database is behind or down)
    rejected: int = 0  # the database refused the write
    outages: int = 0  # times the database became unreachable


class RecordWriter:
    def __init__(
        self,
        store: Store,
        *,
        max_queue: int = DEFAULT_MAX_QUEUE,
        batch: int = DEFAULT_BATCH,
        retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS,
    ) -> None:
        self.store = store
        self.stats = WriterStats()
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1 (the queue is bounded on purpose)")
        self._queue: asyncio.Queue[Record] = asyncio.Queue(max_queue)
        self._batch = batch
        self._retry_delays = retry_delays
        self._available = True
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="call-records-writer")

    def submit(self, record: Record) -> bool:
        """Queues `record`; False (and counted) when the queue is full."""
        self.stats.submitted += 1
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            self.stats.dropped += 1
            if self.stats.dropped % DROP_LOG_EVERY == 1:
                log.warning(
                    "call_records_dropped",
                    dropped=self.stats.dropped,
                    queued=self._queue.qsize(),
                    database_reachable=self._available,
                )
            return False
        return True

    async def flush(self) -> None:
        """Returns once everything submitted so far is written (or given up on)."""
        await self._queue.join()

    async def wait_until(self, condition: Callable[[WriterStats], bool]) -> None:
        """Returns once `condition(stats)` holds (tests bound it with a timeout)."""
        while not condition(self.stats):
            self._changed.clear()
            await self._changed.wait()

    async def close(self, timeout_s: float) -> None:
        """Flushes for up to `timeout_s` (the database may be down), then stops."""
        try:
            async with asyncio.timeout(timeout_s):
                await self.flush()
        except TimeoutError:
            log.error(
                "call_records_lost_at_shutdown",
                unwritten=self._queue.qsize(),
                hint="the database was unreachable while the bridge stopped",
            )
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        log.info("call_records_closed", **asdict(self.stats))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()
                self._changed.set()

    async def _write(self, batch: list[Record]) -> None:
        attempt = 0
        calls = [r for r in batch if isinstance(r, CallRecord)]
        sessions = [r for r in batch if isinstance(r, SessionObligation)]
        while True:
            try:
                if calls:
                    await self.store.save_calls(calls)
                if sessions:
                    await self.store.save_sessions(sessions)
            except StoreUnavailable as exc:
                if self._available:
                    self._available = False
                    self.stats.outages += 1
                    log.error(
                        "call_records_database_unreachable",
                        error=str(exc),
                        queued=self._queue.qsize() + len(batch),
                        hint="records queue in memory (bounded) and are retried",
                    )
                self._changed.set()
                delay = self._retry_delays[min(attempt, len(self._retry_delays) - 1)]
                attempt += 1
                await asyncio.sleep(delay)
                continue
            except Exception as exc:
                if len(batch) > 1:  # find the bad one(s): write the rest one by one
                    for record in batch:
                        await self._write([record])
                    return
                self.stats.rejected += 1
                log.exception("call_records_rejected", call_id=batch[0].call_id, error=repr(exc))
                return
            if not self._available:
                self._available = True
                log.info("call_records_database_reachable_again", after_attempts=attempt)
            self.stats.written += len(batch)
            return
