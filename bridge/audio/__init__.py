"""Pure audio: formats, codecs, streaming conversion, framing and playout. No I/O here."""

from bridge.audio.converter import DEFAULT_QUALITY, Converter
from bridge.audio.formats import MULAW_8K, PCM16_16K, PCM16_24K, AudioFormat, Encoding
from bridge.audio.framer import Reframer

__all__ = [
    "DEFAULT_QUALITY",
    "MULAW_8K",
    "PCM16_16K",
    "PCM16_24K",
    "AudioFormat",
    "Converter",
    "Encoding",
    "Reframer",
]
