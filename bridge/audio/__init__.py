"""Pure audio: formats, codecs, streaming conversion, framing and pacing. No I/O here."""

from bridge.audio.converter import DEFAULT_QUALITY, Converter
from bridge.audio.formats import MULAW_8K, PCM16_16K, PCM16_24K, AudioFormat, Encoding
from bridge.audio.framer import Reframer
from bridge.audio.pacing import PacingClock

__all__ = [
    "DEFAULT_QUALITY",
    "MULAW_8K",
    "PCM16_16K",
    "PCM16_24K",
    "AudioFormat",
    "Converter",
    "Encoding",
    "PacingClock",
    "Reframer",
]
