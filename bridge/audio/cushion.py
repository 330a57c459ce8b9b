"""How long new translated audio waits before it plays, kept at its target by whole silent
frames: the one place playout may add or remove audio.

The wait ("cushion") is what the carrier and our queue hold ahead of a chunk when it arrives.
At a talkspurt's start it is set by the prebuffer; after that it drifts when the audio arrives
at a different rate from the one the carrier plays at (Kallglot's clock against the carrier's,
or one carrier against another), and it jumps when something stalls. The minimum over a few
seconds is the honest figure (jitter only ever adds to a sample). Above target plus
`tolerance`, frames are owed the other way (delay to shed); below target minus `tolerance`, the
carrier is close to running dry (delay to add). A high minimum cannot come from jitter, so it is
acted on at once; a low one can (one late chunk), so only a low that lasts `low_windows`
windows adds delay: drift lasts, a hiccup does not.

Playout settles what is owed only inside a pause: a frame is dropped or a silent frame added
only after `pause_frames` silent frames in a row, so no word is ever shortened or split.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_S = 2.0


@dataclass(slots=True)
class CushionStats:
    frames_inserted: int = 0  # silent frames added in pauses (the carrier was running low)
    frames_compacted: int = 0  # silent frames dropped in pauses (delay had built up)


class Cushion:
    __slots__ = (
        "_lows",
        "_samples",
        "_window_end",
        "_window_min",
        "frame_s",
        "low_windows",
        "owed",
        "pause_frames",
        "silent_run",
        "stats",
        "target_s",
        "tolerance_s",
        "window_s",
    )

    def __init__(
        self,
        target_s: float,
        frame_s: float,
        *,
        tolerance_s: float | None = None,
        window_s: float = WINDOW_S,
        pause_frames: int = 10,
        low_windows: int = 3,
    ) -> None:
        self.target_s = target_s
        self.frame_s = frame_s
        self.tolerance_s = frame_s if tolerance_s is None else tolerance_s
        self.window_s = window_s
        self.pause_frames = pause_frames
        self.low_windows = low_windows
        self._lows = 0  # windows in a row whose minimum was below the band
        self.owed = 0  # frames to add (> 0) or shed (< 0) at the next pause
        self.silent_run = 0  # silent frames in a row, counted only while something is owed
        self.stats = CushionStats()
        self._window_end: float | None = None
        self._window_min = float("inf")
        self._samples = 0

    def restart(self) -> None:
        """A talkspurt starts: the prebuffer sets the cushion afresh, nothing is owed."""
        self.owed = 0
        self.silent_run = 0
        self._window_end = None
        self._window_min = float("inf")
        self._samples = 0
        self._lows = 0

    def arrival(self, ahead_s: float, now: float) -> None:
        """Audio arrived with `ahead_s` already waiting before it."""
        if ahead_s < self._window_min:
            self._window_min = ahead_s
        self._samples += 1
        if self._window_end is None:
            self._window_end = now + self.window_s
            return
        if now < self._window_end or self._samples < 3:
            return
        least = self._window_min
        self._window_end, self._window_min, self._samples = now + self.window_s, float("inf"), 0
        low = least < self.target_s - self.tolerance_s
        self._lows = self._lows + 1 if low else 0
        if least > self.target_s + self.tolerance_s:
            self.owed = -round((least - self.target_s) / self.frame_s)
        elif low and self._lows >= self.low_windows:
            self.owed = round((self.target_s - least) / self.frame_s)
        else:
            self.owed = 0
        if self.owed == 0:
            self.silent_run = 0

    def in_pause(self, silent: bool) -> bool:
        """One more frame is about to go (`silent` or not): may a correction happen here?"""
        self.silent_run = self.silent_run + 1 if silent else 0
        return self.silent_run > self.pause_frames

    def settled(self, frames: int) -> None:
        """`frames` were added (> 0) or shed (< 0); the window restarts, its samples are stale."""
        self.owed -= frames
        if frames > 0:
            self.stats.frames_inserted += frames
        else:
            self.stats.frames_compacted -= frames
        self._lows = 0
        self._window_end, self._window_min, self._samples = None, float("inf"), 0
