"""The streaming converter on real speech and synthetic signals: quality, continuity, no drift."""

from __future__ import annotations

import audioop
import random

import numpy as np
import pytest

from bridge.audio import codecs
from bridge.audio.converter import QUALITIES, Converter
from bridge.audio.formats import MULAW_8K, PCM16_8K, PCM16_16K, PCM16_24K, AudioFormat, Encoding


def samples(pcm16le: bytes) -> np.ndarray:
    return np.frombuffer(pcm16le, np.int16).astype(np.float64)


def snr_db(reference: np.ndarray, signal: np.ndarray) -> float:
    n = min(len(reference), len(signal))
    error = reference[:n] - signal[:n]
    return float(10 * np.log10(np.sum(reference[:n] ** 2) / np.sum(error**2)))


def convert_all(converter: Converter, data: bytes) -> bytes:
    return converter.convert(data) + converter.flush()


@pytest.mark.parametrize("quality", ["MQ", "HQ", "VHQ"])
def test_round_trip_through_16k_is_as_good_as_one_mulaw_pass(
    customer_speech: bytes, quality: str
) -> None:
    original = samples(customer_speech)
    ulaw = audioop.lin2ulaw(customer_speech, 2)
    single_pass_snr = snr_db(original, samples(audioop.ulaw2lin(ulaw, 2)))

    wideband = convert_all(Converter(MULAW_8K, PCM16_16K, quality), ulaw)
    back = convert_all(Converter(PCM16_16K, MULAW_8K, quality), wideband)

    assert len(wideband) == 4 * len(ulaw)  # 2x the samples, 2 bytes each
    assert len(back) == len(ulaw)
    round_trip_snr = snr_db(original, samples(audioop.ulaw2lin(back, 2)))
    assert single_pass_snr > 30  # sanity: the fixture is real speech, not silence
    assert round_trip_snr >= single_pass_snr - 0.5


@pytest.mark.parametrize(
    ("src", "dst"),
    [(MULAW_8K, PCM16_16K), (PCM16_16K, MULAW_8K), (PCM16_24K, MULAW_8K)],
    ids=str,
)
def test_chunked_conversion_matches_one_shot(customer_speech: bytes, src, dst) -> None:
    signal = convert_all(Converter(PCM16_8K, src), customer_speech)
    one_shot = convert_all(Converter(src, dst), signal)

    rng = random.Random(1234)
    chunked = Converter(src, dst)
    out, pos = bytearray(), 0
    while pos < len(signal):
        size = rng.randint(1, 2000)
        out += chunked.convert(signal[pos : pos + size])
        pos += size
    out += chunked.flush()

    assert len(out) == len(one_shot)
    expected_samples = round(len(signal) / src.bytes_per_second * dst.sample_rate)
    assert len(out) // dst.encoding.bytes_per_sample == expected_samples
    # soxr dithers its int16 output, so chunking may move a sample by a least significant bit;
    # for G.711 the LSB is one quantisation level, so compare level indexes, not amplitudes.
    assert np.max(np.abs(lsb_units(dst, bytes(out)) - lsb_units(dst, one_shot))) <= 2


def lsb_units(fmt: AudioFormat, data: bytes) -> np.ndarray:
    linear = samples(codecs.decode(fmt.encoding, data))
    if fmt.encoding.bytes_per_sample == 2:
        return linear
    levels = np.unique(samples(codecs.decode(fmt.encoding, bytes(range(256)))))
    return np.searchsorted(levels, linear).astype(np.float64)


def test_nothing_above_the_new_nyquist_folds_back() -> None:
    rate, seconds = 24000, 5
    t = np.arange(rate * seconds) / rate
    f0, f1 = 4500.0, 12000.0
    phase = 2 * np.pi * (f0 * t + (f1 - f0) / (2 * seconds) * t**2)
    # A 50 ms raised-cosine fade: an abrupt start is a broadband click whose low-frequency energy
    # passes legitimately and would measure the test signal, not the filter.
    envelope = np.ones_like(t)
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(rate // 20) / (rate // 20))
    envelope[: len(ramp)], envelope[-len(ramp) :] = ramp, ramp[::-1]
    sweep = (0.5 * 32767 * envelope * np.sin(phase)).astype(np.int16)

    out = samples(convert_all(Converter(PCM16_24K, PCM16_8K), sweep.tobytes()))

    assert len(out) == len(sweep) // 3
    attenuation = 10 * np.log10(np.mean(sweep.astype(float) ** 2) / max(np.mean(out**2), 1e-12))
    assert attenuation >= 50


def test_ten_minutes_in_20ms_chunks_does_not_drift() -> None:
    frame = bytes(range(256))[:160]  # 20 ms of non-silent mu-law
    converter = Converter(MULAW_8K, PCM16_16K)
    frames = 10 * 60 * 50
    produced = sum(len(converter.convert(frame)) for _ in range(frames))
    produced += len(converter.flush())
    expected = frames * PCM16_16K.bytes_for_ms(20)
    assert abs(produced - expected) <= PCM16_16K.bytes_for_ms(20)


def test_passthrough_is_byte_identical_and_never_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_decode(*_: object) -> bytes:
        raise AssertionError("passthrough decoded its input")

    monkeypatch.setattr(codecs, "decode", must_not_decode)
    monkeypatch.setattr(codecs, "encode", must_not_decode)
    data = bytes(random.Random(7).randbytes(3331))
    converter = Converter(MULAW_8K, MULAW_8K)
    assert converter.passthrough
    assert converter.convert(data) + converter.flush() == data


def test_odd_bytes_of_pcm16_wait_for_their_other_half() -> None:
    pcm = np.arange(-500, 500, dtype=np.int16).tobytes()
    converter = Converter(PCM16_8K, MULAW_8K)
    out = converter.convert(pcm[:3]) + converter.convert(pcm[3:]) + converter.flush()
    assert out == audioop.lin2ulaw(pcm, 2)


@pytest.mark.parametrize("encoding", list(Encoding))
def test_codecs_round_trip_each_encoding(customer_speech: bytes, encoding: Encoding) -> None:
    back = codecs.decode(encoding, codecs.encode(encoding, customer_speech))
    if encoding.bytes_per_sample == 2:
        assert back == customer_speech
    else:
        assert snr_db(samples(customer_speech), samples(back)) > 30


def test_big_endian_pcm_is_byte_swapped() -> None:
    assert codecs.encode(Encoding.PCM16BE, (0x1234).to_bytes(2, "little")) == b"\x12\x34"


def test_reset_drops_buffered_audio() -> None:
    converter = Converter(MULAW_8K, PCM16_16K)
    loud = samples(converter.convert(bytes([0x10]) * 4000))  # fills the filter history
    converter.reset()
    after = samples(converter.convert(MULAW_8K.silence(800)) + converter.flush())
    assert np.max(np.abs(loud)) > 5000
    assert np.max(np.abs(after)) <= 2  # soxr's dither, nothing of the loud tail


def test_bad_quality_and_formats_are_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="unknown soxr quality"):
        Converter(MULAW_8K, PCM16_16K, quality="ultra")
    with pytest.raises(ValueError, match="only mono"):
        AudioFormat(Encoding.MULAW, 8000, channels=2)
    with pytest.raises(ValueError, match="unsupported sample rate"):
        AudioFormat(Encoding.MULAW, 8001)
    assert set(QUALITIES) >= {"MQ", "HQ"}
