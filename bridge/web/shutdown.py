"""How `serve` stops: the first SIGINT or SIGTERM drains, the second ends the calls now.

A drain may last BRIDGE_DRAIN_TIMEOUT (an hour by default) with no output at all, so whoever
pressed Ctrl-C is told how many calls it waits for, for how long at most, and how to cut it
short. The second signal ends every live call the way a call that cannot go on is ended: the
parties hear their call's apology, the legs are hung up, the Kallglot sessions ended, and the
records say `shutdown`, instead of the process being torn down under its calls (which a
KeyboardInterrupt would do, with a page of tracebacks and the calls recorded as hung up).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from types import TracebackType

import structlog

from bridge.calls.control import CallControl
from bridge.calls.model import EndReason
from bridge.calls.registry import CallRegistry

log = structlog.get_logger(__name__)
SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How long the carriers may take to finish what waits on a webhook (Telnyx hangs up after the
# apology's `speak` ends) while this process still answers webhooks: longer than an apology.
SETTLE_S = 20.0


class StopSignals:
    """SIGINT and SIGTERM, counted while `serve` runs (start-up and clean-up included, so no
    signal ever becomes a KeyboardInterrupt): the first sets `drain`, the second `end_now`.

    A third one kills the process the operating system's way, for a shutdown stuck behind
    an unreachable carrier: sessions it leaves open are ended later by another instance or by
    this one's next start (the records hold them, see bridge/calls/session_ledger.py)."""

    def __init__(self) -> None:
        self.drain = asyncio.Event()
        self.end_now = asyncio.Event()
        self.received = 0
        self._loop = asyncio.get_running_loop()

    def __enter__(self) -> StopSignals:
        for sig in SIGNALS:
            self._loop.add_signal_handler(sig, self._received, sig)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig in SIGNALS:
            self._loop.remove_signal_handler(sig)

    def _received(self, sig: signal.Signals) -> None:
        self.received += 1
        if self.received == 1:
            self.drain.set()
        elif self.received == 2:
            self.end_now.set()
        else:
            log.warning("shutdown_forced", signal=sig.name, message="calls are left as they are")
            self._loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)


async def drain(
    registry: CallRegistry, control: CallControl, timeout_s: float, end_now: asyncio.Event
) -> None:
    """Stop taking calls and let the live ones finish, for up to `timeout_s`; then, or as soon
    as `end_now` is set, end what is left cleanly, and let the carriers finish hanging up
    (`control.settle`) while webhooks still reach us."""
    registry.draining = True
    live = len(registry)
    message = (
        f"new calls are refused; waiting up to {timeout_s:g} s (BRIDGE_DRAIN_TIMEOUT) for "
        f"{live} live call{'' if live == 1 else 's'} to end. Press Ctrl-C again (or send "
        "SIGTERM) to end them now, with the apology to each party."
    )
    log.info("draining", live_calls=live, timeout_s=timeout_s, message=message)
    if live and sys.stderr.isatty():
        print(f"kallglot-bridge: draining: {message}", file=sys.stderr, flush=True)
    idle = asyncio.ensure_future(registry.wait_idle())
    now = asyncio.ensure_future(end_now.wait())
    try:
        done, _ = await asyncio.wait(
            (idle, now), timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        idle.cancel()
        now.cancel()
    if idle not in done and now in done:
        log.info("ending_calls_now", live_calls=len(registry), reason=EndReason.SHUTDOWN.value)
        await registry.end_all(EndReason.SHUTDOWN, apologize=True)
    elif idle not in done:
        await registry.end_all(EndReason.DRAIN_TIMEOUT)
    await control.settle(SETTLE_S)
    log.info("drained")
