"""`demo --duck DB`: the same call with the other party's own voice under the translation.

Mixed audio no longer carries the translation byte for byte, so this mode accounts for it the
way a listener would: every translated frame the bridge received left mixed into the call
(none lost), and in what each party heard the translation sits at full level and the other
party's voice at the route's level (a least-squares fit of the two known signals, which also
finds how far the translation trails the original).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bridge.audio.mixer import OriginalMixer

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
MAX_LAG_S = 1.5
MAX_LAG_S_FRAMES = int(MAX_LAG_S * 1000) // 20
WINDOW = 2000  # samples: a quarter of a second


@dataclass(frozen=True, slots=True)
class MixedLevels:
    original_db: float  # the other party's own voice, against how it was said
    translation_db: float  # the translation (the simulator's: the same speech, later)
    lag_s: float  # how far the translation trails the original


def mixed_levels(heard: np.ndarray, said: np.ndarray, start: int) -> MixedLevels:
    """`heard` (8 kHz samples) fitted as a*`said` plus b*`said` later, over the stretch from
    0.5 s in to the end of `said` (where both play), `said` starting at sample `start` of
    `heard`: the median of quarter-second windows, each fitted on its own, because the playout
    may add or shed silent frames in pauses (bridge/audio/cushion.py) and the mixer sheds
    silent translation it is late with, so both may move by whole frames along the call."""
    end = min(start + len(said), len(heard))
    windows = range(start + 4000, end - WINDOW + 1, WINDOW)
    fits = [_fit_window(heard[at : at + WINDOW], said, at, start) for at in windows]
    if not fits:
        raise ValueError("heard is too short to hold the translation over the original")
    original, translation, lag = np.median(np.array(fits), axis=0)
    return MixedLevels(_db(original), _db(translation), float(lag) / 8000)


def _fit_window(window: np.ndarray, said: np.ndarray, at: int, start: int) -> list[float]:
    """The original's and the translation's gains in `window` (samples `at`... of heard), and
    how many samples the translation trails the original there. Each is `said` shifted by
    whole frames, found by correlation and least squares."""
    shifts = range(-MAX_LAG_S_FRAMES, MAX_LAG_S_FRAMES + 1)

    def said_at(shift: int) -> np.ndarray:
        first = at - start - shift * FRAME_SAMPLES
        column = np.zeros(len(window))
        lo, hi = max(0, -first), min(len(window), len(said) - first)
        if lo < hi:
            column[lo:hi] = said[first + lo : first + hi]
        return column

    columns = {shift: said_at(shift) for shift in shifts}
    # The translation, at full level, is the strongest; the original is whichever other shift
    # explains most of what is left.
    loudest = max(shifts, key=lambda shift: abs(float(np.dot(window, columns[shift]))))
    best: tuple[float, np.ndarray, int, int] | None = None
    for other in shifts:
        if other == loudest:
            continue
        early, late = min(other, loudest), max(other, loudest)
        pair = np.stack([columns[early], columns[late]], axis=1)
        gains = np.linalg.lstsq(pair, window, rcond=None)[0]
        residual = float(np.sum((pair @ gains - window) ** 2))
        if best is None or residual < best[0]:
            best = (residual, gains, early, late)
    assert best is not None
    _, (original, translation), early, late = best
    return [float(original), float(translation), (late - early) * FRAME_SAMPLES]


def _db(gain: float) -> float:
    return round(float(20 * np.log10(max(abs(gain), 1e-9))), 2)


def carried(mixer: OriginalMixer) -> int:
    """Translation frames that have left the listener's playout: mixed, sent alone, or shed
    as silence the translation was late with."""
    stats = mixer.stats
    return stats.frames_mixed + stats.translation_alone + stats.translation_shed


def ducked_leg(
    frames_said: int, translation_in: int, mixed: int, levels: MixedLevels
) -> dict[str, Any]:
    """One party's line of the summary: what it said, and how it reached the other party
    (the translation frames the other party's playout had taken in, and sent mixed, by the
    end of the turn)."""
    return {
        "frames_sent": frames_said,
        "translation_frames_in": translation_in,
        "translation_frames_mixed": mixed,
        "lost_frames": translation_in - mixed,
        "original_db": levels.original_db,
        "translation_db": levels.translation_db,
        "translation_lag_ms": round(levels.lag_s * 1000),
    }


def render_ducked(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"Each party heard the other's own voice at {summary['duck_db']} dB under the translation:",
        f"{'party':<10}{'frames sent':>12}{'translated':>11}{'mixed':>7}{'lost':>6}"
        f"{'original dB':>13}{'translation dB':>16}{'lag ms':>8}",
    ]
    for role, leg in summary["legs"].items():
        lines.append(
            f"{role:<10}{leg['frames_sent']:>12}{leg['translation_frames_in']:>11}"
            f"{leg['translation_frames_mixed']:>7}"
            f"{leg['lost_frames']:>6}{leg['original_db']:>13}{leg['translation_db']:>16}"
            f"{leg['translation_lag_ms']:>8}"
        )
    return lines
