from __future__ import annotations

import random

import pytest

from bridge.audio.formats import ALAW_8K, MULAW_8K, PCM16_16K
from bridge.audio.framer import Reframer


@pytest.mark.parametrize(
    ("fmt", "ms", "size"), [(MULAW_8K, 20, 160), (PCM16_16K, 20, 640), (MULAW_8K, 100, 800)]
)
def test_frames_are_exact_and_nothing_is_lost(fmt, ms, size) -> None:
    rng = random.Random(99)
    stream = rng.randbytes(size * 37 + 11)
    framer = Reframer(fmt, ms)
    frames, pos = [], 0
    while pos < len(stream):
        n = rng.randint(0, 3 * size)
        frames += framer.push(stream[pos : pos + n])
        pos += n
    assert all(len(f) == size and type(f) is bytes for f in frames)
    assert framer.pending_bytes == 11
    tail = framer.flush(pad=True)
    assert tail is not None
    assert len(tail) == size
    assert b"".join(frames) + tail[:11] == stream


@pytest.mark.parametrize(("fmt", "value"), [(MULAW_8K, 0xFF), (ALAW_8K, 0xD5), (PCM16_16K, 0x00)])
def test_flush_pads_with_the_formats_silence(fmt, value) -> None:
    framer = Reframer(fmt, 20)
    framer.push(b"\x01\x02")
    tail = framer.flush(pad=True)
    assert tail is not None
    assert tail[:2] == b"\x01\x02"
    assert set(tail[2:]) == {value}
    assert framer.flush() is None


def test_flush_without_pad_returns_the_short_remainder() -> None:
    framer = Reframer(MULAW_8K, 20)
    framer.push(b"abc")
    assert framer.flush(pad=False) == b"abc"


def test_ms_that_is_not_whole_samples_is_refused() -> None:
    with pytest.raises(ValueError, match="whole number of samples"):
        Reframer(PCM16_16K.__class__(PCM16_16K.encoding, 11025), 1)
