"""Real-time playout against absolute deadlines.

Frame n of a run is due at the carrier at `epoch + n * frame_seconds`, computed from an integer
count, so there is no accumulated sleep error: after an hour of frames the schedule is exactly as
precise as after one. We may send up to `lead_seconds` ahead of the playhead (the carrier buffers
it), which absorbs event-loop jitter without letting the queue at the carrier grow unbounded, so
`clear` on barge-in drops little and our idea of what was heard stays close to the truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class PacingClock:
    def __init__(
        self,
        frame_seconds: float,
        lead_seconds: float,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        if frame_seconds <= 0 or lead_seconds < 0:
            raise ValueError("frame length must be positive and lead non-negative")
        self.frame_seconds = frame_seconds
        self.lead_seconds = lead_seconds
        self._now = now
        self._epoch: float | None = None
        self._frames = 0  # frames sent since the epoch

    @property
    def playhead_end(self) -> float | None:
        """When the carrier will have played everything sent so far (None when idle)."""
        if self._epoch is None:
            return None
        return self._epoch + self._frames * self.frame_seconds

    def buffered_seconds(self) -> float:
        """Audio sent but not yet played, by our clock."""
        end = self.playhead_end
        return 0.0 if end is None else max(0.0, end - self._now())

    def wait_before_next(self) -> float:
        """Seconds to wait before the next frame may be sent (0 when it may go now)."""
        end = self.playhead_end
        if end is None:
            return 0.0
        return max(0.0, end - self.lead_seconds - self._now())

    def sent(self, frames: int = 1) -> float:
        """Records `frames` sent now; returns how long the carrier sat starved before them.

        A starved carrier plays these frames as soon as they arrive, so the schedule restarts
        from now. The caller decides whether a gap is an underflow (mid-utterance) or just
        the silence between utterances.
        """
        gap = self._restart_if_starved(self._now())
        self._frames += frames
        return gap

    def send_due(self, limit: int) -> tuple[int, float]:
        """Records as many of `limit` frames as may go now as sent: `(count, starved)`, where
        `starved` is what `sent()` would have said for the first of them.

        The decisions of `wait_before_next()` and `sent()` frame by frame, taken at one reading
        of the clock: one call per batch instead of a few per frame on the playout hot path.
        """
        now, step, lead = self._now(), self.frame_seconds, self.lead_seconds
        end = self.playhead_end
        if limit <= 0 or (end is not None and end - lead - now > 0):
            return 0, 0.0
        starved = self._restart_if_starved(now)
        epoch, sent, count = self._epoch, self._frames, 1  # the first was cleared above
        assert epoch is not None
        while count < limit and epoch + (sent + count) * step - lead - now <= 0:
            count += 1
        self._frames += count
        return count, starved

    def _restart_if_starved(self, now: float) -> float:
        """Before sending at `now`: if the carrier has played everything (or nothing was ever
        sent), the schedule restarts from now. How long it sat starved (0 on a first send)."""
        end = self.playhead_end
        if end is not None and end >= now:
            return 0.0
        self._epoch, self._frames = now, 0
        return 0.0 if end is None else now - end

    def reset(self) -> None:
        """The carrier's buffer was cleared (barge-in, `clear`): nothing is queued there now."""
        self._epoch, self._frames = None, 0
