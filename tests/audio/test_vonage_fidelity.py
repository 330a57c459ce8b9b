"""Vonage's wideband leg: telephone speech through L16 at 16 kHz and the bridge's converters.

A Vonage stream at the recommended 16 kHz carries telephone-band speech (the network beyond is
G.711 at 8 kHz) as 640-byte frames of L16. The bridge converts them to Kallglot's stream format
(mu-law 8 kHz, or PCM16 16 kHz for the legacy protocol) and back, then cuts exact 20 ms frames.
What matters: the round trip costs no more than the one mu-law encode the phone network does
anyway (0.5 dB of SNR at most), and 20 ms chunk boundaries leave no trace (the converters carry
their filter state across chunks, so streaming equals converting the whole at once).
"""

from __future__ import annotations

import numpy as np
import pytest

from bridge.audio import codecs
from bridge.audio.converter import Converter
from bridge.audio.formats import MULAW_8K, PCM16_8K, PCM16_16K, AudioFormat, Encoding
from bridge.audio.framer import Reframer
from bridge.carriers.vonage.protocol import VonageCarrierSide, VonageMediaStream, frame_bytes

FRAME_16K = frame_bytes(16000)  # 640 bytes


def samples(pcm16le: bytes) -> np.ndarray:
    return np.frombuffer(pcm16le, np.int16).astype(np.float64)


def snr_db(reference: np.ndarray, signal: np.ndarray) -> float:
    n = min(len(reference), len(signal))
    error = reference[:n] - signal[:n]
    return float(10 * np.log10(np.sum(reference[:n] ** 2) / np.sum(error**2)))


def lsb_units(fmt: AudioFormat, data: bytes) -> np.ndarray:
    """Samples as quantisation levels: for mu-law the level's index, not its amplitude."""
    linear = samples(codecs.decode(fmt.encoding, data))
    if fmt.encoding.bytes_per_sample == 2:
        return linear
    levels = np.unique(samples(codecs.decode(fmt.encoding, bytes(range(256)))))
    return np.searchsorted(levels, linear).astype(np.float64)


def whole(src: AudioFormat, dst: AudioFormat, data: bytes) -> bytes:
    converter = Converter(src, dst)
    return converter.convert(data) + converter.flush()


def streamed(src: AudioFormat, dst: AudioFormat, data: bytes, chunk: int) -> bytes:
    converter = Converter(src, dst)
    out = b"".join(converter.convert(data[i : i + chunk]) for i in range(0, len(data), chunk))
    return out + converter.flush()


def carrier_frames(pcm16k: bytes) -> list[bytes]:
    """What Vonage sends at 16 kHz: exact 640-byte frames (the last one padded)."""
    framer = Reframer(PCM16_16K, 20)
    frames = framer.push(pcm16k)
    tail = framer.flush()
    return frames + ([tail] if tail else [])


@pytest.fixture(scope="module")
def telephone(customer_speech: bytes) -> bytes:
    """Four seconds of the caller as Vonage would stream it: 8 kHz speech, at 16 kHz."""
    return whole(PCM16_8K, PCM16_16K, customer_speech[: 4 * 16000])


@pytest.mark.parametrize("kallglot", [MULAW_8K, PCM16_16K], ids=["current", "legacy"])
def test_the_round_trip_costs_no_more_than_one_mulaw_encode(
    customer_speech: bytes, telephone: bytes, kallglot: AudioFormat
) -> None:
    original = samples(customer_speech[: 4 * 16000])
    one_encode = snr_db(
        original,
        samples(
            codecs.decode(
                Encoding.MULAW, codecs.encode(Encoding.MULAW, customer_speech[: 4 * 16000])
            )
        ),
    )
    stream = VonageMediaStream()
    stream.parse(VonageCarrierSide(16000).connected({}))
    received = b"".join(stream.parse(frame).payload for frame in carrier_frames(telephone))  # type: ignore[union-attr]
    to_kallglot = streamed(PCM16_16K, kallglot, received, FRAME_16K)
    back = streamed(kallglot, PCM16_16K, to_kallglot, kallglot.bytes_for_ms(100))
    sent = [stream.media(frame) for frame in carrier_frames(back)]
    assert {len(frame) for frame in sent} == {FRAME_16K}  # one exact 20 ms frame per message
    heard = whole(PCM16_16K, PCM16_8K, b"".join(sent))  # the far end is a phone again
    round_trip = snr_db(original, samples(heard))
    assert one_encode > 30  # sanity: real speech
    assert round_trip >= one_encode - 0.5, (round_trip, one_encode)
    level = 20 * np.log10(np.std(samples(heard)[: len(original)]) / np.std(original))
    assert abs(level) < 0.2  # the same loudness


@pytest.mark.parametrize(
    ("src", "dst"), [(PCM16_16K, MULAW_8K), (MULAW_8K, PCM16_16K), (PCM16_16K, PCM16_16K)], ids=str
)
def test_20_ms_chunk_boundaries_are_invisible(
    telephone: bytes, src: AudioFormat, dst: AudioFormat
) -> None:
    signal = whole(PCM16_16K, src, telephone)
    frame = src.bytes_for_ms(20)
    chunked, one_shot = streamed(src, dst, signal, frame), whole(src, dst, signal)
    assert len(chunked) == len(one_shot)
    if src == dst:
        assert chunked == one_shot == signal  # passthrough: byte for byte
        return
    # soxr dithers its int16 output, so chunking may move a sample by a least significant bit:
    # compare quantisation levels, as tests/audio/test_converter.py does.
    assert np.max(np.abs(lsb_units(dst, chunked) - lsb_units(dst, one_shot))) <= 2
    assert (
        snr_db(
            samples(codecs.decode(dst.encoding, one_shot)),
            samples(codecs.decode(dst.encoding, chunked)),
        )
        > 40
    )
