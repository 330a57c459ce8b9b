"""Ending the Kallglot sessions of calls whose bridge instance died.

A bridge killed without draining (SIGKILL, a lost host, an OOM kill) leaves its calls' Kallglot
sessions open: they bill, and each holds one of the account's few concurrent sessions (2 to 50
on the published plans) until Kallglot gives up on them. The records sweep (bridge/store/
liveness.py) finds such calls; this ends their sessions, with the idempotency key the owner
itself would have used, so an owner that was only cut off and ends the call too bills nothing
twice.

Only calls of an instance that had been heartbeating and stopped. An instance that never
heartbeated may be a bridge from before heartbeats, serving its calls in the middle of a
rolling upgrade: its sessions are left to it. The one risk taken knowingly: a live instance
cut off from the database (and only from it) for longer than BRIDGE_ORPHAN_AFTER_S loses the
translation of its calls, which then end as Kallglot having ended them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol

import structlog

from bridge.calls.kallglot_link import end_idempotency_key
from bridge.kallglot.errors import KallglotError, NotFoundError
from bridge.kallglot.rest import KallglotClient
from bridge.tasks import cancel_and_wait

log = structlog.get_logger(__name__)
CLOSE_GRACE_S = 5.0


class OrphanedCall(Protocol):
    """What the sweep reports of each call it ended (bridge.store.base.Orphan)."""

    @property
    def call_id(self) -> str: ...
    @property
    def instance(self) -> str | None: ...
    @property
    def session_id(self) -> str | None: ...
    @property
    def heartbeated(self) -> bool: ...


class OrphanedSessions:
    def __init__(self, kallglot: KallglotClient) -> None:
        self._kallglot = kallglot
        self._tasks: set[asyncio.Task[None]] = set()

    def end(self, orphans: Iterable[OrphanedCall]) -> None:
        """Starts ending the sessions of `orphans` in the background (the caller is the
        heartbeat, which must not wait on Kallglot)."""
        todo: list[OrphanedCall] = []
        for orphan in orphans:
            if orphan.session_id is None:
                continue
            if orphan.heartbeated:
                todo.append(orphan)
            else:
                log.info(
                    "orphaned_session_left_running",
                    call_id=orphan.call_id,
                    session_id=orphan.session_id,
                    instance=orphan.instance,
                    reason="its instance never heartbeated (a bridge from before heartbeats?)",
                )
        if todo:
            task = asyncio.create_task(self._end_all(todo), name="end-orphaned-sessions")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Until every ending started so far has finished (tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self, grace_s: float = CLOSE_GRACE_S) -> None:
        """Shutdown: endings under way get `grace_s` to finish (no later sweep will find their
        calls again), then whatever is left is cancelled and logged."""
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)
        await cancel_and_wait(list(self._tasks))

    async def _end_all(self, orphans: list[OrphanedCall]) -> None:
        # One after another: a dead instance may leave dozens, and ending is rate limited.
        for done, orphan in enumerate(orphans):
            try:
                await self._end_one(orphan)
            except asyncio.CancelledError:
                log.warning(
                    "orphaned_sessions_not_ended",
                    sessions=[o.session_id for o in orphans[done:]],
                    hint="this instance is shutting down; end them by hand "
                    "(POST /v1/sessions/{id}/end) or wait for Kallglot to end them",
                )
                raise

    async def _end_one(self, orphan: OrphanedCall) -> None:
        session_id = orphan.session_id
        assert session_id is not None
        bound = log.bind(call_id=orphan.call_id, session_id=session_id)
        try:
            await self._kallglot.end_session(
                session_id, idempotency_key=end_idempotency_key(orphan.call_id)
            )
        except NotFoundError:
            bound.info("orphaned_session_gone")
        except KallglotError as exc:
            bound.warning(
                "orphaned_session_end_failed",
                error=str(exc),
                hint="end it by hand (POST /v1/sessions/{id}/end) or wait for Kallglot "
                "to end it; it bills and holds a concurrent session until then",
            )
        else:
            bound.warning("orphaned_session_ended", instance=orphan.instance)
