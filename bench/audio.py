"""Cost and latency of the streaming converter per 20 ms frame, per direction, per soxr quality,
and the cost of mixing the original under the translation per listener leg.

    make bench        (or: python -m bench.audio)

Prints microseconds per frame (median of several timed runs, plus p95 across runs) and how much
audio soxr holds back in steady state (its block processing releases output in bursts; this is
latency added on top of the filter's own group delay). Mixing (a route's
`original_under_translation_db`) is priced per leg-second: 50 frames of the other party's voice,
each either passed on untouched (no translation playing) or mixed with a translation frame and
ducked (the worst case: translation all the time).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from bridge.audio.converter import DEFAULT_QUALITY, QUALITIES, Converter
from bridge.audio.formats import MULAW_8K, PCM16_16K, PCM16_24K, AudioFormat, Encoding
from bridge.audio.mixer import Ducking, OriginalMixer

DIRECTIONS: list[tuple[AudioFormat, AudioFormat]] = [
    (MULAW_8K, PCM16_16K),
    (PCM16_16K, MULAW_8K),
    (PCM16_24K, MULAW_8K),
]
FRAMES_PER_RUN = 2000
RUNS = 7


def speechlike_frames(fmt: AudioFormat, count: int) -> list[bytes]:
    rng = np.random.default_rng(42)
    n = fmt.sample_rate // 50
    noise = (rng.standard_normal(n * count) * 3000).clip(-32768, 32767).astype(np.int16).tobytes()
    encoded = Converter(AudioFormat(fmt.encoding.PCM16LE, fmt.sample_rate), fmt).convert(noise)
    size = fmt.bytes_for_ms(20)
    return [encoded[i : i + size] for i in range(0, len(encoded), size)]


def micros_per_frame(src: AudioFormat, dst: AudioFormat, quality: str) -> list[float]:
    frames = speechlike_frames(src, FRAMES_PER_RUN)
    results = []
    for _ in range(RUNS):
        converter = Converter(src, dst, quality)
        start = time.perf_counter_ns()
        for frame in frames:
            converter.convert(frame)
        results.append((time.perf_counter_ns() - start) / 1000 / len(frames))
    return results


def held_ms(src: AudioFormat, dst: AudioFormat, quality: str) -> tuple[float, float]:
    """Median and max of (input duration so far - output duration so far), in steady state."""
    converter = Converter(src, dst, quality)
    fed = out = 0.0
    lags = []
    for frame in speechlike_frames(src, 500):
        fed += src.ms_for_bytes(len(frame))
        out += dst.ms_for_bytes(len(converter.convert(frame)))
        lags.append(fed - out)
    steady = lags[100:]
    return statistics.median(steady), max(steady)


def mixing_micros(fmt: AudioFormat, translated: bool) -> list[float]:
    """Microseconds per frame of the original through `OriginalMixer`, with a translation
    frame mixed into every one (`translated`) or none."""
    original = speechlike_frames(fmt, FRAMES_PER_RUN)
    translation = speechlike_frames(fmt, FRAMES_PER_RUN)[::-1]
    results = []
    for _ in range(RUNS):
        mixer = OriginalMixer(fmt, Ducking(-18))
        start = time.perf_counter_ns()
        for i, frame in enumerate(original):
            if translated:
                mixer.translation([translation[i]])
            mixer.original(frame)
        results.append((time.perf_counter_ns() - start) / 1000 / len(original))
    return results


def mixing_table() -> None:
    print()
    print("Mixing the original under the translation, per listener leg (route option)")
    header = f"{'leg format':<18}{'translation':<13}{'us/frame p50':>14}{'p95':>8}{'ms/leg-s':>10}"
    print(header)
    print("-" * len(header))
    for fmt in (MULAW_8K, PCM16_16K, AudioFormat(Encoding.PCM16LE, 48000)):
        for translated in (False, True):
            runs = sorted(mixing_micros(fmt, translated))
            p50 = statistics.median(runs)
            p95 = runs[min(len(runs) - 1, round(0.95 * (len(runs) - 1)))]
            label = "mixed, ducked" if translated else "none"
            print(f"{fmt!s:<18}{label:<13}{p50:>14.2f}{p95:>8.2f}{p50 * 50 / 1000:>10.3f}")
    print("ms/leg-s: CPU milliseconds per second of one listener's call (50 frames)")


def main() -> None:
    print(f"Converter cost per 20 ms frame ({FRAMES_PER_RUN} frames x {RUNS} runs)")
    header = f"{'direction':<28}{'quality':<8}{'us/frame p50':>14}{'p95':>8}{'held ms p50':>13}{'max':>7}"
    print(header)
    print("-" * len(header))
    for src, dst in DIRECTIONS:
        for quality in QUALITIES:
            runs = sorted(micros_per_frame(src, dst, quality))
            p95 = runs[min(len(runs) - 1, round(0.95 * (len(runs) - 1)))]
            hold_median, hold_max = held_ms(src, dst, quality)
            mark = " *" if quality == DEFAULT_QUALITY else ""
            print(
                f"{f'{src} -> {dst}':<28}{quality + mark:<8}{statistics.median(runs):>14.2f}"
                f"{p95:>8.2f}{hold_median:>13.1f}{hold_max:>7.1f}"
            )
    passthrough = micros_per_frame(MULAW_8K, MULAW_8K, DEFAULT_QUALITY)
    print(f"{'mulaw/8000 passthrough':<36}{statistics.median(passthrough):>14.2f}")
    print("* default quality (see bridge/audio/converter.py for why)")
    mixing_table()


if __name__ == "__main__":
    main()
