"""The barge-in voice-activity detector on real speech, line noise, hum and clicks.

Ground truth for onsets is built, not guessed: talkspurts are cut from the speech fixtures where
a 10 ms energy envelope shows them, and laid out between stretches of 1 s of silence (longer
than the hangover), so every true onset is the known first sample of a burst.
"""

from __future__ import annotations

import audioop
import functools
import math
import timeit
from pathlib import Path

import numpy as np
import pytest

from bridge.audio import codecs
from bridge.audio.converter import Converter
from bridge.audio.formats import (
    ALAW_8K,
    MULAW_8K,
    PCM16_8K,
    PCM16_16K,
    AudioFormat,
    Encoding,
)
from bridge.audio.voice_activity import VoiceActivityDetector, VoiceActivityParams
from bridge.audio.wav import parse_wav

FORMATS = [
    MULAW_8K,
    ALAW_8K,
    PCM16_8K,
    AudioFormat(Encoding.PCM16BE, 8000),
    PCM16_16K,
    AudioFormat(Encoding.PCM16BE, 16000),
]
MAX_LATENCY_S = 0.060
FRAME_MS = 20
RATE = 8000  # the fixtures' rate
SPEAKERS = ["customer_de", "agent_en"]


@functools.cache
def speech(name: str) -> bytes:
    """A real-speech fixture as 8 kHz PCM16 (read here, so this file needs no shared fixture)."""
    fmt, pcm = parse_wav((Path(__file__).parents[1] / "data" / f"{name}.wav").read_bytes())
    assert fmt == PCM16_8K
    return pcm


def dbfs_to_rms(dbfs: float) -> float:
    return 32768 * 10 ** (dbfs / 20)


def talkspurts(pcm: bytes, *, gap_ms: int, threshold_dbfs: float = -40.0) -> list[tuple[int, int]]:
    """(start, end) sample indices of runs of 10 ms windows at or above `threshold_dbfs`,
    merged across quieter gaps shorter than `gap_ms`; runs under 100 ms are dropped."""
    win = RATE // 100
    active = [
        i
        for i in range(len(pcm) // (2 * win))
        if audioop.rms(pcm[2 * i * win : 2 * (i + 1) * win], 2) >= dbfs_to_rms(threshold_dbfs)
    ]
    runs: list[list[int]] = []
    for i in active:
        if runs and (i - runs[-1][1]) * 10 < gap_ms:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    return [(a * win, b * win) for a, b in runs if (b - a) * 10 >= 100]


def bursts_between_silence(pcm: bytes) -> tuple[bytes, list[float]]:
    """The fixture's talkspurts, each after 1 s (plus an odd number of samples, so onsets do not
    fall on frame boundaries) of digital silence; and the true onset times in seconds."""
    out, onsets = bytearray(), []
    for k, (start, end) in enumerate(talkspurts(pcm, gap_ms=100)):
        out += bytes(2 * (RATE + 37 * k))
        onsets.append(len(out) / 2 / RATE)
        out += pcm[2 * start : 2 * end]
    out += bytes(2 * RATE)
    return bytes(out), onsets


def to_format(pcm8k: bytes, fmt: AudioFormat) -> bytes:
    converter = Converter(PCM16_8K, fmt)
    return converter.convert(pcm8k) + converter.flush()


def from_samples(samples: np.ndarray, fmt: AudioFormat) -> bytes:
    pcm = np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()
    return codecs.encode(fmt.encoding, pcm)


def onset_times(detector: VoiceActivityDetector, signal: bytes) -> list[float]:
    """End time (s) of each frame on which `push` reported an onset: when the bridge knows."""
    size = detector.fmt.bytes_for_ms(FRAME_MS)
    return [
        (pos + size) / detector.fmt.bytes_per_second
        for pos in range(0, len(signal) - size + 1, size)
        if detector.push(signal[pos : pos + size])
    ]


def assert_one_prompt_onset_each(found: list[float], truth: list[float]) -> None:
    assert len(found) == len(truth), (found, truth)
    for onset, decided in zip(truth, found, strict=True):
        assert 0 < decided - onset <= MAX_LATENCY_S + 1e-9, (onset, decided)


def white_noise(fmt: AudioFormat, seconds: float, dbfs: float, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, dbfs_to_rms(dbfs), int(fmt.sample_rate * seconds))


def hum(fmt: AudioFormat, seconds: float, dbfs: float, hz: float) -> np.ndarray:
    t = np.arange(int(fmt.sample_rate * seconds)) / fmt.sample_rate
    return dbfs_to_rms(dbfs) * math.sqrt(2) * np.sin(2 * np.pi * hz * t + 0.3)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("speaker", SPEAKERS)
def test_each_talkspurt_is_one_onset_within_60_ms(fmt: AudioFormat, speaker: str) -> None:
    pcm, truth = bursts_between_silence(speech(speaker))
    assert len(truth) >= 3  # sanity: the fixtures hold several talkspurts

    found = onset_times(VoiceActivityDetector(fmt), to_format(pcm, fmt))

    assert_one_prompt_onset_each(found, truth)


@pytest.mark.parametrize("speaker", SPEAKERS)
def test_speech_as_recorded_gives_onsets_only_at_talkspurt_starts(speaker: str) -> None:
    """Unedited speech: pauses shorter than the hangover do not re-trigger barge-in."""
    pcm = bytes(2 * RATE) + speech(speaker)
    truth = [start / RATE for start, _ in talkspurts(pcm, gap_ms=300)]

    found = onset_times(VoiceActivityDetector(MULAW_8K), codecs.encode(Encoding.MULAW, pcm))

    assert_one_prompt_onset_each(found, truth)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_digital_silence_never_triggers(fmt: AudioFormat) -> None:
    detector = VoiceActivityDetector(fmt)
    assert onset_times(detector, fmt.silence(fmt.bytes_per_second * 10)) == []
    assert not detector.speaking


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_low_level_white_noise_never_triggers(fmt: AudioFormat) -> None:
    noise = from_samples(white_noise(fmt, 10, -50), fmt)
    assert onset_times(VoiceActivityDetector(fmt), noise) == []


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
@pytest.mark.parametrize("hz", [50, 60])
def test_mains_hum_never_triggers(fmt: AudioFormat, hz: int) -> None:
    signal = from_samples(hum(fmt, 10, -30, hz), fmt)
    assert onset_times(VoiceActivityDetector(fmt), signal) == []


def test_steady_line_noise_is_learned_and_speech_over_it_still_found() -> None:
    """-40 dBFS of noise (above the absolute floor) from the first frame: the floor learns it,
    so only the speech laid over it triggers."""
    bursts, truth = bursts_between_silence(speech("customer_de"))
    noise = white_noise(PCM16_8K, len(bursts) / 2 / RATE, -40)
    mixed = np.frombuffer(bursts, "<i2").astype(np.float64) + noise
    detector = VoiceActivityDetector(MULAW_8K)

    found = onset_times(detector, from_samples(mixed, MULAW_8K))

    assert_one_prompt_onset_each(found, truth)
    assert -44 < detector.noise_floor_dbfs < -38


def test_a_click_confined_to_one_frame_never_triggers() -> None:
    """Loud broadband bursts of exactly one frame, every 300 ms, and single-sample spikes."""
    silence = MULAW_8K.silence(160)
    loud = from_samples(white_noise(PCM16_8K, 0.02, -6), MULAW_8K)
    spike = codecs.encode(Encoding.MULAW, b"\x00\x00" * 80 + b"\xff\x7f" + b"\x00\x00" * 79)
    signal = (silence * 14 + loud) * 20 + (silence * 14 + spike) * 20

    assert onset_times(VoiceActivityDetector(MULAW_8K), signal) == []


def test_three_onset_frames_reject_a_click_that_straddles_a_frame_boundary() -> None:
    params = VoiceActivityParams(onset_frames=3)
    click = white_noise(PCM16_8K, 0.010, -6)  # 10 ms, half in each of two frames
    samples = np.zeros(RATE)
    samples[4000 - 40 : 4000 + 40] = click

    assert (
        onset_times(VoiceActivityDetector(MULAW_8K, params), from_samples(samples, MULAW_8K)) == []
    )


def test_speaking_lasts_until_the_hangover_then_resets() -> None:
    tone = from_samples(hum(PCM16_8K, 0.5, -20, 440), MULAW_8K)
    silence = MULAW_8K.silence(160)
    detector = VoiceActivityDetector(MULAW_8K, VoiceActivityParams(hangover_ms=300))

    results = [detector.push(tone[pos : pos + 160]) for pos in range(0, len(tone), 160)]
    assert results == [False, True] + [False] * 23  # onset on the second voiced frame, once

    after_silence = [(detector.push(silence), detector.speaking) for _ in range(15)]
    # Still in the hangover for 280 ms of silence; over at 300 ms, with no onset reported.
    assert after_silence == [(False, True)] * 14 + [(False, False)]

    detector.push(tone[:160])
    detector.reset()
    assert not detector.speaking
    assert detector.noise_floor_dbfs == detector.params.min_level_dbfs
    assert [detector.push(tone[:160]) for _ in range(2)] == [False, True]


def test_a_steady_tone_is_learned_as_background() -> None:
    """Anything steady, however voice-like, stops counting once the floor has climbed to it."""
    tone = from_samples(hum(PCM16_8K, 20, -20, 440), MULAW_8K)
    detector = VoiceActivityDetector(MULAW_8K)

    assert onset_times(detector, tone) == [0.04]
    assert not detector.speaking


def test_frames_of_other_sizes_and_empty_frames() -> None:
    detector = VoiceActivityDetector(PCM16_8K)
    assert not detector.push(b"")
    tone = from_samples(hum(PCM16_8K, 0.1, -20, 440), PCM16_8K)
    assert [detector.push(tone[pos : pos + 160]) for pos in range(0, 800, 160)] == [
        False,
        True,
        False,
        False,
        False,
    ]
    with pytest.raises(ValueError, match="whole samples, got 161 bytes"):
        detector.push(tone[:161])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_level_dbfs": 0.0}, "min_level_dbfs must be between -96 and 0 dBFS, got 0.0"),
        ({"min_level_dbfs": -120.0}, "min_level_dbfs must be between -96 and 0 dBFS"),
        ({"min_level_dbfs": math.nan}, "min_level_dbfs must be between -96 and 0 dBFS, got nan"),
        ({"margin_db": 0.0}, "margin_db must be above 0 and at most 60 dB"),
        ({"min_crossings_per_s": -1}, "min_crossings_per_s must be a whole number >= 0"),
        ({"min_crossings_per_s": 2.5}, "min_crossings_per_s must be a whole number >= 0"),
        ({"onset_frames": 0}, "onset_frames must be a whole number >= 1, got 0"),
        ({"onset_frames": True}, "onset_frames must be a whole number >= 1, got True"),
        ({"hangover_ms": -20}, "hangover_ms must be a whole number of ms >= 0"),
        ({"floor_rise_db_per_s": 0.0}, "floor_rise_db_per_s must be finite, above 0"),
        ({"floor_rise_db_per_s": math.inf}, "floor_rise_db_per_s must be finite, above 0"),
        ({"floor_fall_ms": -5.0}, "floor_fall_ms must be finite, above 0 ms"),
    ],
)
def test_bad_params_are_refused_with_the_setting_named(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^VoiceActivityParams.{message}"):
        VoiceActivityParams(**changes)  # type: ignore[arg-type]


def test_a_mulaw_frame_costs_a_few_microseconds() -> None:
    """50 frames a second per leg on the hot path; a generous bound, so CI noise cannot fail it."""
    ulaw = codecs.encode(Encoding.MULAW, speech("customer_de"))
    frames = [ulaw[pos : pos + 160] for pos in range(0, len(ulaw) - 159, 160)]
    detector = VoiceActivityDetector(MULAW_8K)

    def run() -> None:
        for frame in frames:
            detector.push(frame)

    seconds = min(timeit.repeat(run, number=10, repeat=5)) / (10 * len(frames))
    assert seconds < 20e-6
