"""Loudness of one carrier frame, and a gain applied to one: what playout needs to correct its
timing only in silence and to duck a translation under a listener who talks over it.

Both run only while a correction or a duck is pending, never on every frame.
"""

from __future__ import annotations

import audioop

import numpy as np

from bridge.audio import codecs
from bridge.audio.formats import AudioFormat

# Below this a frame is silence: line noise sits near -60 dBFS, breath and the quiet ends of
# words near -40. Timing corrections need frames nobody can miss, so the bar is low.
SILENCE_DBFS = -50.0
_FULL_SCALE = 32768.0


def rms_threshold(dbfs: float) -> int:
    return int(_FULL_SCALE * 10 ** (dbfs / 20))


SILENCE_RMS = rms_threshold(SILENCE_DBFS)


def is_silent(frame: bytes, fmt: AudioFormat, threshold_rms: int = SILENCE_RMS) -> bool:
    pcm = codecs.decode(fmt.encoding, frame)
    return audioop.rms(pcm, 2) < threshold_rms


def db_to_gain(db: float) -> float:
    return float(10 ** (db / 20))


def apply_gain(frame: bytes, fmt: AudioFormat, start: float, end: float) -> bytes:
    """`frame` with its gain going linearly from `start` to `end` across it: a step in gain
    at a frame boundary is a click, a ramp over 20 ms is not."""
    pcm = np.frombuffer(codecs.decode(fmt.encoding, frame), np.int16).astype(np.float32)
    gains = np.linspace(start, end, len(pcm), endpoint=False, dtype=np.float32)
    scaled = np.clip(pcm * gains, -32768, 32767).astype(np.int16)
    return codecs.encode(fmt.encoding, scaled.tobytes())
