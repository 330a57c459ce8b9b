"""Streaming format conversion: decode, resample, encode, one chunk at a time.

One `soxr.ResampleStream` lives as long as the stream it converts: the filter's history is what
makes chunk boundaries inaudible. Re-creating it per chunk (or resampling chunks independently)
is exactly the click-per-packet bug we exist to avoid. Converters are never shared between
directions or legs for the same reason.
"""

from __future__ import annotations

import numpy as np
import soxr

from bridge.audio import codecs
from bridge.audio.formats import AudioFormat

# Chosen by `make bench` (bench/audio.py, 2026-11-25): per 20 ms frame HQ costs what MQ costs
# (4.7 / 6.2 / 6.8 us for 8k->16k, 16k->8k, 24k->8k: soxr's per-call overhead dominates at
# 160-480 samples) and holds back the same audio (median 64 ms, 42 ms at 24k), while VHQ holds
# twice as much at 24k for precision G.711 cannot carry. LQ loses 12 dB SNR on speech (its
# passband stops short of 3.4 kHz) and QQ does no anti-aliasing at all.
DEFAULT_QUALITY = "HQ"
QUALITIES = ("QQ", "LQ", "MQ", "HQ", "VHQ")


class Converter:
    """Converts a continuous byte stream from `src` to `dst` format.

    `convert` may return fewer bytes than its input implies (the resampler holds a few
    milliseconds of history); nothing is lost, it comes out with a later call or at `flush`.
    Output is always whole samples of `dst`.
    """

    def __init__(self, src: AudioFormat, dst: AudioFormat, quality: str = DEFAULT_QUALITY) -> None:
        if quality not in QUALITIES:
            raise ValueError(f"unknown soxr quality {quality!r}; use one of {QUALITIES}")
        self.src = src
        self.dst = dst
        self.quality = quality
        self.passthrough = src == dst
        self._sample_bytes = src.encoding.bytes_per_sample
        self._partial = b""  # an input sample split across two chunks
        self._resampler = self._new_resampler()
        self._held = 0  # input samples in, less output samples out (in input samples)

    @property
    def held_s(self) -> float:
        """Audio taken in and not yet given out: the resampler's look-ahead, in seconds."""
        return self._held / self.src.sample_rate

    def convert(self, data: bytes) -> bytes:
        data = self._whole_samples(data)
        if self.passthrough or not data:
            return data
        pcm = codecs.decode(self.src.encoding, data)
        resampler = self._resampler
        if resampler is not None:
            pcm = resampler.resample_chunk(np.frombuffer(pcm, np.int16)).tobytes()
            src, dst = self.src.sample_rate, self.dst.sample_rate
            self._held += len(data) // self._sample_bytes - len(pcm) // 2 * src // dst
        return codecs.encode(self.dst.encoding, pcm)

    def flush(self) -> bytes:
        """End of stream: everything still inside the resampler. The converter starts afresh."""
        self._partial = b""
        self._held = 0
        if self._resampler is None:
            return b""
        tail = self._resampler.resample_chunk(np.zeros(0, np.int16), last=True).tobytes()
        self._resampler = self._new_resampler()
        return codecs.encode(self.dst.encoding, tail)

    def reset(self) -> None:
        """Drop buffered audio without emitting it (barge-in: stale tails must not leak)."""
        self._partial = b""
        self._held = 0
        self._resampler = self._new_resampler()

    def _whole_samples(self, data: bytes) -> bytes:
        if self._sample_bytes == 1:
            return data
        if self._partial:
            data = self._partial + data
        cut = len(data) - len(data) % self._sample_bytes
        self._partial = data[cut:]
        return data[:cut] if self._partial else data

    def _new_resampler(self) -> soxr.ResampleStream | None:
        if self.src.sample_rate == self.dst.sample_rate:
            return None
        return soxr.ResampleStream(
            self.src.sample_rate, self.dst.sample_rate, 1, dtype="int16", quality=self.quality
        )
