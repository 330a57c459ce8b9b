"""The original under the translation, on real speech: its level, its ramps, its limits."""

from __future__ import annotations

import numpy as np
import pytest

from bridge.audio import codecs
from bridge.audio.formats import MULAW_8K, PCM16_8K, PCM16_16K, AudioFormat, Encoding
from bridge.audio.levels import apply_gain
from bridge.audio.mixer import Ducking, OriginalMixer

FRAME_MS = 20
PCM16_48K = AudioFormat(Encoding.PCM16LE, 48000)  # the console's leg


def frames_of(pcm: bytes, fmt: AudioFormat) -> list[bytes]:
    """`pcm` (8 kHz PCM16) as whole 20 ms frames of `fmt`."""
    data = pcm if fmt.encoding is Encoding.PCM16LE else codecs.encode(fmt.encoding, pcm)
    size = fmt.bytes_for_ms(FRAME_MS)
    return [data[i : i + size] for i in range(0, len(data) - size + 1, size)]


def linear(frames: list[bytes], fmt: AudioFormat) -> np.ndarray:
    data = b"".join(frames)
    pcm = data if fmt.encoding is Encoding.PCM16LE else codecs.decode(fmt.encoding, data)
    return np.frombuffer(pcm, np.int16).astype(np.float64)


def mix(mixer: OriginalMixer, original: list[bytes], translation: dict[int, bytes]) -> list[bytes]:
    """Runs `original` through `mixer`; `translation[i]` is queued just before frame i."""
    out = []
    for i, frame in enumerate(original):
        if i in translation:
            mixer.translation([translation[i]])
        out.append(mixer.original(frame)[0])
    return out


def level_db(component: np.ndarray, reference: np.ndarray) -> float:
    """The level of `reference` inside `component` (least squares), in dB against itself."""
    gain = float(np.dot(component, reference) / np.dot(reference, reference))
    return 20 * np.log10(gain)


def test_without_translation_the_original_passes_byte_for_byte(customer_speech: bytes) -> None:
    original = frames_of(customer_speech, MULAW_8K)
    mixer = OriginalMixer(MULAW_8K, Ducking(-18))
    assert mix(mixer, original, {}) == original
    assert mixer.stats.frames_mixed == mixer.stats.frames_ducked == 0


@pytest.mark.parametrize("fmt", [MULAW_8K, PCM16_8K], ids=str)
@pytest.mark.parametrize("db", [-6.0, -18.0, -30.0])
def test_under_translation_the_original_sits_at_the_configured_level(
    customer_speech: bytes, agent_speech: bytes, fmt: AudioFormat, db: float
) -> None:
    """The translation's SNR against the mixed-in original is the configured level (1 dB)."""
    n = min(len(customer_speech), len(agent_speech)) // fmt.bytes_for_ms(FRAME_MS)
    n = min(n, 150)  # three seconds of both speaking
    original = frames_of(customer_speech, fmt)[:n]
    translation = frames_of(agent_speech, fmt)[:n]
    mixer = OriginalMixer(fmt, Ducking(db, attack_ms=40))
    out = mix(mixer, original, dict(enumerate(translation)))
    settled = slice(4 * 160, None)  # after the 40 ms attack (two frames) and a margin
    heard = linear(out, fmt)[settled] - linear(translation, fmt)[settled]
    measured = level_db(heard, linear(original, fmt)[settled])
    assert measured == pytest.approx(db, abs=1.0)
    assert mixer.stats.frames_limited == 0  # speech at these levels needs no limiter


def high_band_db(signal: np.ndarray, rate: int, cutoff_hz: float = 3400) -> float:
    """Energy above `cutoff_hz` relative to all of it, Hann-windowed, in dB."""
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal)))) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / rate)
    return float(10 * np.log10(spectrum[freqs > cutoff_hz].sum() / spectrum.sum()))


def tone(seconds: float, rate: int, hz: float = 440.0, dbfs: float = -6.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    amplitude = 32767 * 10 ** (dbfs / 20)
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16).tobytes()


@pytest.mark.parametrize("fmt", [PCM16_8K, PCM16_16K, PCM16_48K], ids=str)
def test_gain_ramps_do_not_click(fmt: AudioFormat) -> None:
    """Around each ramp's start and end (duck, hold, release), what lies above 3.4 kHz stays
    50 dB under the tone: a ramp; a step in gain there would be a click (checked too)."""
    rate, size = fmt.sample_rate, fmt.bytes_for_ms(FRAME_MS)
    data = tone(3.0, rate)
    original = [data[i : i + size] for i in range(0, len(data), size)]
    quiet = frames_of(tone(3.0, rate, 300.0, dbfs=-40.0), fmt)  # audible; nothing above 3.4 kHz
    ducking = Ducking(-18, hold_ms=200, release_ms=300, attack_ms=40)
    translation = {i: quiet[i] for i in range(40, 80)}
    out = linear(mix(OriginalMixer(fmt, ducking), original, translation), fmt)
    per_frame = rate * FRAME_MS // 1000
    # duck starts, reaches the floor, release starts (after the hold), reaches full level
    boundaries = [40, 42, 80 + 10, 80 + 10 + 15]
    window = 2 * per_frame
    for frame in boundaries:
        at = frame * per_frame
        assert high_band_db(out[at - window // 2 : at + window // 2], rate) <= -50, frame
    stepped = linear([apply_gain(f, fmt, 1.0, 1.0) for f in original[:40]], fmt)
    stepped = np.concatenate([stepped, 0.126 * linear(original[40:80], fmt)])
    at = 40 * per_frame
    assert high_band_db(stepped[at - window // 2 : at + window // 2], rate) > -50


def test_the_original_comes_back_after_hold_and_release(customer_speech: bytes) -> None:
    fmt = PCM16_8K
    original = frames_of(customer_speech, fmt)[:100]
    quiet = frames_of(tone(1.0, 8000, 300.0, dbfs=-40.0), fmt)
    mixer = OriginalMixer(fmt, Ducking(-18, hold_ms=100, release_ms=200))
    out = mix(mixer, original, {i: quiet[i] for i in range(10, 30)})
    assert out[:10] == original[:10]  # before: untouched
    # hold: 5 frames after the translation's last, still down; release: 10 frames up
    assert level_db(linear(out[31:35], fmt), linear(original[31:35], fmt)) < -17
    assert out[30 + 5 + 10 :] == original[30 + 5 + 10 :]  # back to the original, exactly


def test_loud_translation_over_loud_original_is_limited_not_wrapped() -> None:
    fmt = PCM16_8K
    size = fmt.bytes_for_ms(FRAME_MS)
    loud = tone(1.0, 8000, 300.0, dbfs=-0.5)
    original = [loud[i : i + size] for i in range(0, len(loud), size)]
    translation = dict(enumerate(frames_of(tone(1.0, 8000, 500.0, dbfs=-0.5), fmt)))
    mixer = OriginalMixer(fmt, Ducking(0.0))  # no ducking: both at full scale
    out = linear(mix(mixer, original, translation), fmt)
    assert mixer.stats.frames_limited > 0
    assert np.max(np.abs(out)) <= 32767
    # No wrap-around: the mix keeps the sign of the sum wherever the sum is large.
    expected = linear(original, fmt) + linear(list(translation.values()), fmt)
    big = np.abs(expected) > 20000
    assert np.all(np.sign(out[big]) == np.sign(expected[big]))


def test_silence_in_the_translation_does_not_duck_the_original(customer_speech: bytes) -> None:
    """Only audible translation ducks: the silence around a translated utterance (or a
    translation stream that carries silence) leaves the original as it was said."""
    original = frames_of(customer_speech, MULAW_8K)[:50]
    silent = MULAW_8K.silence(160)
    mixer = OriginalMixer(MULAW_8K, Ducking(-18))
    assert mix(mixer, original, dict.fromkeys(range(50), silent)) == original
    assert mixer.stats.frames_mixed == 50
    assert mixer.stats.frames_ducked == 0


def test_translation_goes_alone_when_no_original_comes() -> None:
    mixer = OriginalMixer(MULAW_8K, Ducking(-18))
    frames = frames_of(tone(0.1, 8000), MULAW_8K)
    mixer.translation(frames, arrived_at=1.5)
    alone = mixer.translation_alone()
    assert [frame for frame, _ in alone] == frames  # untouched
    assert [at for _, at in alone] == [1.5] + [None] * (len(frames) - 1)
    assert mixer.pending == 0


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"db": 6.0}, "-60 to 0 dB"),
        ({"db": -18.0, "hold_ms": -1}, "hold_ms"),
        ({"db": -18.0, "release_ms": 20_000}, "release_ms"),
    ],
)
def test_bad_ducking_is_refused_with_a_reason(settings: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Ducking(**settings)  # type: ignore[arg-type]


def test_a_translation_talkspurt_waits_its_prebuffer_then_rides_every_original_frame() -> None:
    mixer = OriginalMixer(MULAW_8K, Ducking(-18), prebuffer_s=0.08)
    translation = frames_of(tone(0.2, 8000, 500.0, dbfs=-12.0), MULAW_8K)
    original = frames_of(tone(0.4, 8000), MULAW_8K)
    mixer.translation(translation[:5], arrived_at=0.0)
    carried = []
    for i, frame in enumerate(original):
        if i == 5:
            mixer.translation(translation[5:], arrived_at=0.1)
        out, _ = mixer.original(frame, now=i * 0.02)
        carried.append(out != frame)
    assert carried[:4] == [False] * 4  # the prebuffer: 80 ms
    assert carried[4:14] == [True] * 10  # then one translation frame per original frame
    assert mixer.pending == 0


def test_delay_an_underrun_added_is_shed_again_in_the_translations_silence() -> None:
    mixer = OriginalMixer(MULAW_8K, Ducking(-18), prebuffer_s=0.08)
    silent = MULAW_8K.silence(160)
    voiced = frames_of(tone(0.1, 8000, 500.0, dbfs=-12.0), MULAW_8K)
    mixer.translation([silent] * 20 + voiced, arrived_at=0.0)  # far more than the target
    original = frames_of(tone(0.2, 8000), MULAW_8K)
    for i, frame in enumerate(original[:4]):
        mixer.original(frame, now=0.08 + i * 0.02)
    assert mixer.stats.translation_shed > 0
    assert mixer.pending <= 4 + 8  # back within its prebuffer and a chunk
    assert mixer.stats.translation_in == 25
    assert mixer.stats.frames_mixed + mixer.stats.translation_shed + mixer.pending == 25
