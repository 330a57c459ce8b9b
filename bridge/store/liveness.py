"""Heartbeats, and the sweep that ends the records of calls whose instance died.

A bridge killed without draining (SIGKILL, a lost host, an OOM kill) never writes its calls'
end records, and they would read "active" forever. So every instance heartbeats into the
shared store, and every instance, on the same beat, ends the records of calls whose instance
has been silent for `silent_after_s` (reason `instance_lost`). Sweeps from several instances
at once are harmless: a row is ended once, and each sweep reports only the rows it ended.

On the same beat, the Kallglot session obligations a dead instance left (and those of its
orphaned calls that name a session) are adopted by this instance: `on_adopted` hands them to
the session ledger, which ends those sessions (bridge/calls/session_ledger.py). The calls
themselves are gone with their instance: the carrier hangs up a leg whose media socket dropped.
A live instance merely cut off from the database for longer than `silent_after_s` could see its
calls swept, but the record heals itself: the call's own end record, ranked equal and written
later, replaces the sweep's. Its sessions, though, are ended by whoever adopted them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import structlog

from bridge.calls.obligations import Adoption
from bridge.store.base import Orphan, Store, StoreUnavailable
from bridge.tasks import cancel_and_wait

log = structlog.get_logger(__name__)
BEATS_PER_SILENCE = 4  # missed beats before an instance counts as gone
CLAIMS_KEPT_S = 24 * 3600.0  # stream claims outlive any ticket (at most ~70 minutes) by far


class Liveness:
    def __init__(
        self,
        store: Store,
        instance: str,
        silent_after_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._instance = instance
        self._silent_after_s = silent_after_s
        self._clock = clock
        self.interval_s = silent_after_s / BEATS_PER_SILENCE
        self._task: asyncio.Task[None] | None = None

    async def beat(self) -> list[Orphan]:
        """One heartbeat, then one sweep of calls; the orphans this sweep ended."""
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
        for orphan in orphans:
            if orphan.session_id is not None and not orphan.heartbeated:
                log.info(
                    "orphaned_session_left_running",
                    call_id=orphan.call_id,
                    session_id=orphan.session_id,
                    instance=orphan.instance,
                    reason="its instance never heartbeated (a bridge from before heartbeats?)",
                )
        return orphans

    async def adopt(self, *, own: bool) -> list[Adoption]:
        """Takes over the session obligations nobody works on (`own`: also this instance's
        from a previous life, at start-up), and forgets stream claims past any ticket's life."""
        now = self._clock()
        adopted = await self._store.adopt_sessions(
            self._instance, now, now - self._silent_after_s, own=own
        )
        await self._store.prune_claims(now - CLAIMS_KEPT_S)
        return adopted

    def start(self, on_adopted: Callable[[Sequence[Adoption]], None]) -> None:
        """Beats from now on, handing adopted obligations to `on_adopted` (on the heartbeat:
        it must hand slow work to a task of its own)."""
        self._task = asyncio.create_task(self._run(on_adopted), name="records-liveness")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def _run(self, on_adopted: Callable[[Sequence[Adoption]], None]) -> None:
        own = True  # the first round (at once): what this instance's previous life left
        while True:
            try:
                if not own:
                    await self.beat()
                adopted = await self.adopt(own=own)
                own = False
                if adopted:
                    on_adopted(adopted)
            except StoreUnavailable as exc:  # the next beat tries again
                log.warning("records_heartbeat_failed", error=str(exc))
            except Exception:  # a refused statement must not end the heartbeat for good
                log.exception("records_heartbeat_crashed")
            await asyncio.sleep(self.interval_s)
