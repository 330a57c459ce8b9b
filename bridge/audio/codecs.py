"""G.711 and L16 to and from little-endian 16-bit PCM, the one format the resampler works in.

audioop is C and handles a 20 ms frame in well under a microsecond, so there is no reason to
write table lookups of our own. It left the stdlib in 3.13; audioop-lts provides it since.
audioop works in host byte order; every machine we run on is little-endian, and we refuse to
start on one that is not rather than quietly producing noise.
"""

from __future__ import annotations

import sys

try:
    import audioop
except ImportError:  # pragma: no cover - Python >= 3.13 without audioop-lts
    raise ImportError("audioop is missing: on Python 3.13+ install 'audioop-lts'") from None

from bridge.audio.formats import Encoding

if sys.byteorder != "little":  # pragma: no cover
    raise ImportError("bridge.audio needs a little-endian host")


def decode(encoding: Encoding, data: bytes) -> bytes:
    """Encoded bytes (whole samples) to little-endian signed 16-bit PCM."""
    if encoding is Encoding.MULAW:
        return audioop.ulaw2lin(data, 2)
    if encoding is Encoding.ALAW:
        return audioop.alaw2lin(data, 2)
    if encoding is Encoding.PCM16LE:
        return data
    return audioop.byteswap(data, 2)


def encode(encoding: Encoding, pcm16le: bytes) -> bytes:
    """Little-endian signed 16-bit PCM to `encoding`."""
    if encoding is Encoding.MULAW:
        return audioop.lin2ulaw(pcm16le, 2)
    if encoding is Encoding.ALAW:
        return audioop.lin2alaw(pcm16le, 2)
    if encoding is Encoding.PCM16LE:
        return pcm16le
    return audioop.byteswap(pcm16le, 2)
