"""Is the listener talking? A cheap per-frame voice-activity detector for barge-in.

When a listener starts talking over a translation, the bridge must clear or duck it within 100 ms
of their first voiced frame, so the decision has to be made on the carrier's own 20 ms frames
with almost no look-ahead. A frame counts as voiced when two cheap tests agree:

- its RMS level is at least `margin_db` above an adaptive noise floor; the floor creeps up
  slowly (so a steady line noise is learned within seconds and stops counting) and follows
  drops quickly (so the next talkspurt is measured against the quiet between words);
  the floor never goes below `min_level_dbfs - margin_db`, so nothing quieter than
  `min_level_dbfs` ever counts, however quiet the line was before;
- its zero-crossing rate is at least `min_crossings_per_s`: mains hum (50/60 Hz, 100-120
  crossings a second) and its low harmonics have the energy of speech but not its crossings.

Onset needs `onset_frames` voiced frames in a row, so a click confined to one frame never
triggers. Speech then lasts until `hangover_ms` of frames in a row are not voiced, so the pauses
between words do not end a talkspurt and re-trigger barge-in.

Levels are dBFS relative to a full-scale square wave (a full-scale sine is -3 dBFS).
audioop does the decoding, RMS and crossing count in C: a 20 ms frame costs under 1 us.
"""

from __future__ import annotations

import audioop
import math
from dataclasses import dataclass

from bridge.audio.codecs import decode
from bridge.audio.formats import AudioFormat

_FULL_SCALE_DB = 20 * math.log10(32768)


@dataclass(frozen=True, slots=True)
class VoiceActivityParams:
    """Tuning for `VoiceActivityDetector`; the defaults suit telephone speech at 8-16 kHz."""

    min_level_dbfs: float = -45.0
    """Absolute floor: frames quieter than this are never voiced (line noise is below -50)."""
    margin_db: float = 10.0
    """How far above the learned noise floor a frame must be to count as voiced."""
    min_crossings_per_s: int = 300
    """Lowest zero-crossing rate of a voiced frame; 300 rejects 50/60 Hz hum and its 2nd
    harmonic while keeping voiced speech (telephone speech crosses 600+ times a second)."""
    onset_frames: int = 2
    """Voiced frames in a row that make an onset: 2 keeps the decision within 60 ms of the true
    onset at 20 ms frames; 3 also rejects clicks that straddle a frame boundary."""
    hangover_ms: int = 300
    """Unvoiced audio in a row that ends a talkspurt."""
    floor_rise_db_per_s: float = 3.0
    """How fast the noise floor climbs towards louder audio: slow, or speech would be learned."""
    floor_fall_ms: float = 100.0
    """Time constant with which the noise floor follows quieter audio: fast."""

    def __post_init__(self) -> None:
        rules = (
            ("min_level_dbfs", -96.0 <= self.min_level_dbfs < 0.0, "between -96 and 0 dBFS"),
            ("margin_db", 0.0 < self.margin_db <= 60.0, "above 0 and at most 60 dB"),
            ("min_crossings_per_s", _whole(self.min_crossings_per_s, 0), "a whole number >= 0"),
            ("onset_frames", _whole(self.onset_frames, 1), "a whole number >= 1"),
            ("hangover_ms", _whole(self.hangover_ms, 0), "a whole number of ms >= 0"),
            ("floor_rise_db_per_s", 0.0 < self.floor_rise_db_per_s < math.inf, "finite, above 0"),
            ("floor_fall_ms", 0.0 < self.floor_fall_ms < math.inf, "finite, above 0 ms"),
        )
        for name, ok, rule in rules:
            if not ok:  # NaN fails every comparison, so it lands here too
                raise ValueError(
                    f"VoiceActivityParams.{name} must be {rule}, got {getattr(self, name)!r}"
                )


def _whole(value: object, minimum: int) -> bool:
    """bool is an int to Python, but `onset_frames=True` is a mistake, not a count."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


DEFAULT_PARAMS = VoiceActivityParams()


class VoiceActivityDetector:
    """Feed one leg's inbound frames in order; `push` says when a talkspurt starts.

    One detector per leg: it learns that leg's noise floor. Frames may be any whole number of
    samples, though the onset rule counts frames and so assumes the carrier's usual 20 ms.
    """

    __slots__ = (
        "_encoding",
        "_fall",
        "_floor_db",
        "_floor_min_db",
        "_frame_len",
        "_hangover_bytes",
        "_margin_db",
        "_min_crossings",
        "_onset_frames",
        "_quiet_bytes",
        "_rise_db",
        "_run",
        "_speaking",
        "fmt",
        "params",
    )

    def __init__(self, fmt: AudioFormat, params: VoiceActivityParams = DEFAULT_PARAMS) -> None:
        self.fmt = fmt
        self.params = params
        self._encoding = fmt.encoding
        self._margin_db = params.margin_db
        self._floor_min_db = params.min_level_dbfs - params.margin_db
        self._onset_frames = params.onset_frames
        self._hangover_bytes = fmt.bytes_per_second * params.hangover_ms // 1000
        # Per-frame constants depend on the frame length; worked out on the first frame and
        # again only if a carrier changes its frame size.
        self._frame_len = 0
        self._min_crossings = 0
        self._rise_db = 0.0
        self._fall = 0.0
        self.reset()

    def reset(self) -> None:
        """Forget the learned floor and any talkspurt, as for a new stream.

        The floor starts at `min_level_dbfs`, as if the line were as noisy as we tolerate:
        steady noise up to `margin_db` above that then never triggers on the first frames,
        and a quiet line pulls the floor down to its real level within a few hundred ms.
        """
        self._floor_db = self.params.min_level_dbfs
        self._run = 0
        self._quiet_bytes = 0
        self._speaking = False

    @property
    def speaking(self) -> bool:
        """True from an onset until `hangover_ms` of unvoiced audio."""
        return self._speaking

    @property
    def noise_floor_dbfs(self) -> float:
        """The learned background level (for metrics and tuning)."""
        return self._floor_db

    def push(self, frame: bytes) -> bool:
        """Takes the next frame; True exactly once per talkspurt, on the frame that starts it."""
        nbytes = len(frame)
        if nbytes != self._frame_len:
            if not nbytes:
                return False
            self._resize(nbytes)
        pcm = decode(self._encoding, frame)
        rms = audioop.rms(pcm, 2)
        floor_min = self._floor_min_db
        level = 20 * math.log10(rms) - _FULL_SCALE_DB if rms else floor_min
        if level < floor_min:
            # Clamped so that one dropped, all-zero frame drags the floor down by a few dB at
            # most, not by 90: a floor far below the line noise would let the noise count.
            level = floor_min
        floor = self._floor_db
        voiced = level >= floor + self._margin_db and audioop.cross(pcm, 2) >= self._min_crossings
        if level > floor:
            self._floor_db = min(level, floor + self._rise_db)
        else:
            self._floor_db = floor + (level - floor) * self._fall

        if self._speaking:
            if voiced:
                self._quiet_bytes = 0
            else:
                self._quiet_bytes += nbytes
                if self._quiet_bytes >= self._hangover_bytes:
                    self._speaking = False
            return False
        if not voiced:
            self._run = 0
            return False
        self._run += 1
        if self._run < self._onset_frames:
            return False
        self._run = 0
        self._quiet_bytes = 0
        self._speaking = True
        return True

    def _resize(self, nbytes: int) -> None:
        """Per-frame constants for frames of `nbytes`, so `push` does no division or exp."""
        width = self.fmt.encoding.bytes_per_sample
        if nbytes % width:
            raise ValueError(f"a {self.fmt} frame must be whole samples, got {nbytes} bytes")
        seconds = nbytes / self.fmt.bytes_per_second
        samples = nbytes // width
        # audioop.cross counts sign changes within the frame: a tone of f Hz gives 2f a second.
        self._min_crossings = math.ceil(
            self.params.min_crossings_per_s * samples / self.fmt.sample_rate
        )
        self._rise_db = self.params.floor_rise_db_per_s * seconds
        self._fall = 1.0 - math.exp(-seconds * 1000 / self.params.floor_fall_ms)
        self._frame_len = nbytes
