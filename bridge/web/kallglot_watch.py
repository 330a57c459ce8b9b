"""The readiness watch: /readyz turns 503 while Kallglot cannot be reached, and back once it can.

Calls alone cannot tell: an idle instance makes no requests, and one failed request cannot tell
an outage from a blip. So the watch asks Kallglot itself (bridge/kallglot/probe.py, one GET
that costs no credit), but only while no call has proved it up lately: a busy instance sends no
probes. Bounded cost: one probe per `interval_s` (15 s) when idle, none while calls keep proving
it; during an outage one per `retry_s` (2 s), which is also how fast it notices the return.
Readiness turns 503 only after `failures_to_unready` probes in a row failed (one lost packet is
not an outage), and back at the first answer, from a probe or from a call. A probe refused with
401/403 makes the instance unready too, as a call refused so does.

The policy (`KallglotWatch`) is sans-I/O: results in, `Health` updated, the next wait out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import structlog

from bridge.calls.services import Health
from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.probe import ProbeResult, Reach, probe
from bridge.tasks import cancel_and_wait

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WatchTiming:
    interval_s: float = 15.0  # between probes while Kallglot answers (and no call proved it)
    retry_s: float = 2.0  # between probes after one failed
    failures_to_unready: int = 2  # failed probes in a row before /readyz says 503
    timeout_s: float = 3.0  # one probe's bound


DEFAULT_WATCH = WatchTiming()


class KallglotWatch:
    """What the probes found, kept in `Health`; when to probe next."""

    def __init__(
        self,
        health: Health,
        api_url: str,
        timing: WatchTiming = DEFAULT_WATCH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.health = health
        self.timing = timing
        self.probes = 0  # probes made so far
        self._api_url = api_url
        self._clock = clock
        self._failures = 0  # in a row
        self._last_probe: float | None = None

    def delay(self) -> float:
        """Seconds until the next probe is due (0: now). Clock-based on purpose: the health's
        proof may move while the loop sleeps, so the loop asks again after every wait."""
        if self._last_probe is None:
            return 0.0  # first thing at start-up
        if self._failures:
            return max(0.0, self._last_probe + self.timing.retry_s - self._clock())
        since = max(self._last_probe, self.health.kallglot_proven_at or self._last_probe)
        return max(0.0, since + self.timing.interval_s - self._clock())

    def observe(self, result: ProbeResult) -> str | None:
        """Takes one probe's result; the event to log when it changed what readiness says."""
        self.probes += 1
        self._last_probe = self._clock()
        health = self.health
        if result.reach is Reach.ACCEPTED:
            self._failures = 0
            was_unready = health.not_ready_reason is not None
            health.kallglot_accepted()
            return "kallglot_reachable_again" if was_unready else None
        if result.reach is Reach.REJECTED:
            self._failures = 0
            first = health.kallglot_rejected is None
            health.kallglot_refused(f"Kallglot refused the API key: {result.detail}")
            return "kallglot_key_refused" if first else None
        self._failures += 1
        if self._failures < self.timing.failures_to_unready:
            return "kallglot_probe_failed" if self._failures == 1 else None
        first = health.kallglot_unreachable is None
        health.kallglot_lost(
            f"Kallglot is unreachable at KALLGLOT_API_URL={self._api_url}: {result.detail}"
        )
        return "kallglot_unreachable" if first else None


@asynccontextmanager
async def watching_kallglot(
    http: aiohttp.ClientSession,
    settings: KallglotSettings,
    health: Health,
    timing: WatchTiming = DEFAULT_WATCH,
) -> AsyncIterator[KallglotWatch]:
    """Runs the watch as long as the block: started and stopped with the app (bridge/web/app.py)."""
    watch = KallglotWatch(health, settings.api_url, timing)
    task = asyncio.create_task(_run(watch, http, settings), name="kallglot_watch")
    try:
        yield watch
    finally:
        await cancel_and_wait([task])


async def _run(
    watch: KallglotWatch, http: aiohttp.ClientSession, settings: KallglotSettings
) -> None:
    while True:
        if (delay := watch.delay()) > 0:
            await asyncio.sleep(delay)
            continue  # a call may have proved Kallglot up meanwhile: ask again
        try:
            result = await probe(http, settings, watch.timing.timeout_s)
        except Exception as exc:  # a bug here must not end the watch for good
            log.exception("kallglot_probe_crashed", error=str(exc) or type(exc).__name__)
            result = ProbeResult(Reach.UNREACHABLE, f"the probe failed: {type(exc).__name__}")
        event = watch.observe(result)  # logged only when something changed: no outage spam
        if event == "kallglot_reachable_again":
            log.info(event, elapsed_ms=round(result.elapsed_s * 1000))
        elif event == "kallglot_probe_failed":
            log.info(event, reason=result.detail, hint="probing again before turning unready")
        elif event is not None:
            reason = watch.health.not_ready_reason
            log.error(event, reason=reason, hint="/readyz answers 503 until Kallglot answers")
