"""Where the carrier's playback is: what it has played of what we sent, and so what it holds.

The carrier plays our frames on its own clock, one 20 ms frame per tick, and tells us what it
really played through mark echoes ("everything before mark N has played"). Between echoes we
extrapolate at the carrier's clock rate (bridge/audio/clock_rate.py); each echo puts the
estimate back where the carrier says it is. So the estimate cannot drift: a carrier clock
0.1 % fast, a media server that stalled for 150 ms, a carrier that picked our first frame up a
tick late, all show up in the next echo, and playout sends by what the carrier holds rather
than by what our clock says it should hold.

An echo proves the position is at least N (the mark's echo may be late, never early), so a
carrier behind our estimate is believed at once. One ahead of it is believed only as far as a
clock `max_skew` fast could have got since the last anchor: a peer that echoes marks on
arrival (a load generator, a buggy carrier) would otherwise make us believe it plays
infinitely fast and send everything at once.

Times are our monotonic seconds; positions count frames since the stream (or the last
`clear`) began. Pure: no clock of its own, the caller passes `now`.
"""

from __future__ import annotations

from bridge.audio.clock_rate import MAX_SKEW


class CarrierPlayhead:
    __slots__ = (
        "_anchor_n",
        "_anchor_t",
        "_started",
        "frame_s",
        "max_skew",
        "rate",
        "sent",
    )

    def __init__(self, frame_s: float, *, max_skew: float = MAX_SKEW) -> None:
        if frame_s <= 0:
            raise ValueError(f"frame length must be positive, got {frame_s} s")
        self.frame_s = frame_s
        self.max_skew = max_skew
        # Carrier seconds per our second, kept current by the caller. A better figure applies
        # from the anchor on: the carrier's clock ran at it all along, so without marks (one
        # anchor per talkspurt) what the first guess got wrong is put right, not kept.
        self.rate = 1.0
        self.sent = 0  # frames sent since the start (or the last reset)
        self._anchor_t = 0.0  # at our time _anchor_t the carrier was at frame _anchor_n ...
        self._anchor_n = 0.0  # ... and it has played continuously since (or run out)
        self._started = False

    def position(self, now: float) -> float:
        """Frames the carrier has played by `now` (never more than were sent)."""
        if not self._started:
            return 0.0
        played = self._anchor_n + (now - self._anchor_t) * self.rate / self.frame_s
        return min(played, float(self.sent))

    def buffered_s(self, now: float) -> float:
        """Audio the carrier holds at `now`, in our seconds."""
        return (self.sent - self.position(now)) * self.frame_s / self.rate

    def runs_out_at(self) -> float | None:
        """When the carrier plays the last frame sent so far (None before the first send)."""
        if not self._started:
            return None
        return self._anchor_t + (self.sent - self._anchor_n) * self.frame_s / self.rate

    def on_sent(self, frames: int, now: float) -> float:
        """`frames` more were sent at `now`; how long the carrier had sat idle before them
        (0 while it was still playing, and on the first send)."""
        idle = 0.0
        end = self.runs_out_at()
        if end is None or end <= now:  # idle: these start playing now
            idle = 0.0 if end is None else now - end
            self._anchor_t, self._anchor_n, self._started = now, float(self.sent), True
        self.sent += frames
        return idle

    def on_played(self, frames: int, now: float) -> None:
        """A mark echo: the carrier has played the first `frames` frames by `now`."""
        if not self._started or frames > self.sent:
            return  # an echo from before a reset, or nonsense: proves nothing
        played, predicted = float(frames), self.position(now)
        if played > predicted:  # ahead: at most as far as the fastest plausible clock
            fastest = self._anchor_n + (now - self._anchor_t) * (1 + self.max_skew) / self.frame_s
            played = min(played, max(fastest, predicted))
        self._anchor_t, self._anchor_n = now, played

    def reset(self) -> None:
        """The carrier dropped everything (`clear`): positions start again from 0."""
        self.sent = 0
        self._anchor_t, self._anchor_n, self._started = 0.0, 0.0, False
