"""How fast the carrier's clock runs against ours, from the audio it sends us.

A carrier sends 20 ms of the caller's audio per tick of its own media clock, and plays what we
send on the same clock. Crystals differ by up to 0.1 %: over a ten-minute call that is 600 ms,
so playout that assumes our clock is the carrier's either floods it or lets it run dry.

Arrival times are our clock plus a delay that is never negative and often large (a network
hiccup, a busy event loop, a stall that delivers its backlog at once). The least-delayed
arrivals are the honest ones: per window we keep only the minimum of `arrival - audio time`
and fit a line through those minima. Delays only ever raise a point, so a burst or a stall
leaves the fit alone, and a few minutes of windows give the rate to within a few ppm.

Pure arithmetic: the media pump pays one subtraction and one comparison per frame, the fit
runs once per window.
"""

from __future__ import annotations

from collections import deque

WINDOW_S = 1.0
WINDOWS = 60  # the fit spans the last minute
MIN_SPAN_S = 4.0  # before this much, the rate stays at 1.0
MAX_SKEW = 0.01  # 10,000 ppm: no carrier is this far off; a larger figure is noise


class ClockRateEstimator:
    __slots__ = ("_minima", "_window_end", "_window_min", "_window_t", "max_skew", "rate")

    def __init__(self, *, max_skew: float = MAX_SKEW) -> None:
        self.rate = 1.0  # carrier seconds per second of ours
        self.max_skew = max_skew
        self._minima: deque[tuple[float, float]] = deque(maxlen=WINDOWS)  # (our t, offset)
        self._window_end: float | None = None
        self._window_min = float("inf")
        self._window_t = 0.0

    @property
    def ppm(self) -> float:
        return (self.rate - 1.0) * 1e6

    def observe(self, carrier_s: float, now: float) -> None:
        """`carrier_s` seconds of carrier audio have arrived in all, the last of it at `now`."""
        offset = now - carrier_s
        if offset < self._window_min:
            self._window_min, self._window_t = offset, now
        end = self._window_end
        if end is None:
            self._window_end = now + WINDOW_S
        elif now >= end:
            self._minima.append((self._window_t, self._window_min))
            self._window_min = float("inf")
            self._window_end = now + WINDOW_S
            self._fit()

    def _fit(self) -> None:
        """Least squares through the window minima: offset = (1 - rate) * t + c."""
        points = self._minima
        if len(points) < 2 or points[-1][0] - points[0][0] < MIN_SPAN_S:
            return
        n = len(points)
        mean_t = sum(t for t, _ in points) / n
        mean_o = sum(o for _, o in points) / n
        var = sum((t - mean_t) ** 2 for t, _ in points)
        if var <= 0:
            return
        slope = sum((t - mean_t) * (o - mean_o) for t, o in points) / var
        skew = max(-self.max_skew, min(self.max_skew, -slope))
        self.rate = 1.0 + skew
