"""Heartbeats, and the sweep that ends the records of calls whose instance died.

A bridge killed without draining (SIGKILL, a lost host, an OOM kill) never writes its calls'
end records, and they would read "active" forever. So every instance heartbeats into the
shared store, and every instance, on the same beat, ends the records of calls whose instance
has been silent for `silent_after_s` (reason `instance_lost`). Sweeps from several instances
at once are harmless: a row is ended once, and each sweep reports only the rows it ended.

Here only records change; `on_orphans` hears of every call a sweep ended, so that the app can
end their Kallglot sessions (bridge/calls/orphans.py). The calls themselves are gone with their
instance: the carrier hangs up a leg whose media socket dropped. A live instance merely cut off
from the database for longer than `silent_after_s` could see its calls swept, but the record
heals itself: the call's own end record, ranked equal and written later, replaces the sweep's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import structlog

from bridge.store.base import Orphan, Store, StoreUnavailable
from bridge.tasks import cancel_and_wait

log = structlog.get_logger(__name__)
BEATS_PER_SILENCE = 4  # missed beats before an instance counts as gone


class Liveness:
    def __init__(
        self,
        store: Store,
        instance: str,
        silent_after_s: float,
        clock: Callable[[], float] = time.time,
        on_orphans: Callable[[Sequence[Orphan]], None] = lambda _: None,
    ) -> None:
        """`on_orphans` runs on the heartbeat: it must hand slow work to a task of its own."""
        self._store = store
        self._instance = instance
        self._silent_after_s = silent_after_s
        self._clock = clock
        self._on_orphans = on_orphans
        self.interval_s = silent_after_s / BEATS_PER_SILENCE
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> list[Orphan]:
        """One heartbeat, then one sweep; the orphans this sweep ended."""
        now = self._clock()
        await self._store.heartbeat(self._instance, now)
        orphans = await self._store.end_orphans(now, now - self._silent_after_s)
        if orphans:
            log.warning(
                "orphaned_calls_ended",
                calls=[o.call_id for o in orphans],
                instances=sorted({o.instance or "?" for o in orphans}),
                silent_after_s=self._silent_after_s,
            )
            self._on_orphans(orphans)
        return orphans

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="records-liveness")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.beat()
            except StoreUnavailable as exc:  # the next beat tries again
                log.warning("records_heartbeat_failed", error=str(exc))
            except Exception:  # a refused statement must not end the heartbeat for good
                log.exception("records_heartbeat_crashed")
