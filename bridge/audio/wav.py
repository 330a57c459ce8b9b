"""WAV containers to and from raw PCM, as bytes (callers do the file I/O).

Carriers must never receive a RIFF header inside a media payload (it plays as a click), so WAV
exists only at the edges: fixtures in, recordings out.
"""

from __future__ import annotations

import io
import wave

from bridge.audio.formats import AudioFormat, Encoding


def parse_wav(data: bytes) -> tuple[AudioFormat, bytes]:
    """A mono 16-bit PCM WAV file's format and little-endian samples."""
    with wave.open(io.BytesIO(data), "rb") as reader:
        if reader.getnchannels() != 1 or reader.getsampwidth() != 2:
            raise ValueError(
                "WAV must be mono 16-bit PCM "
                f"(got {reader.getnchannels()} channels, {8 * reader.getsampwidth()}-bit)"
            )
        fmt = AudioFormat(Encoding.PCM16LE, reader.getframerate())
        return fmt, reader.readframes(reader.getnframes())


def build_wav(sample_rate: int, pcm16le: bytes) -> bytes:
    """A mono 16-bit PCM WAV file holding `pcm16le`."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(pcm16le)
    return out.getvalue()
