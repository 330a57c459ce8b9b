"""Audio formats as values, so that every conversion decision is a comparison of two of them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Encoding(StrEnum):
    MULAW = "mulaw"
    ALAW = "alaw"
    PCM16LE = "pcm16le"
    PCM16BE = "pcm16be"

    @property
    def bytes_per_sample(self) -> int:
        return 1 if self in (Encoding.MULAW, Encoding.ALAW) else 2

    @property
    def silence_byte(self) -> int:
        """The byte that decodes to zero amplitude: padding with anything else clicks."""
        return {Encoding.MULAW: 0xFF, Encoding.ALAW: 0xD5}.get(self, 0x00)


SUPPORTED_RATES = frozenset({8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000})


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: Encoding
    sample_rate: int
    channels: int = 1

    def __post_init__(self) -> None:
        if self.channels != 1:
            raise ValueError(f"only mono audio is supported, got {self.channels} channels")
        if self.sample_rate not in SUPPORTED_RATES:
            raise ValueError(
                f"unsupported sample rate {self.sample_rate} Hz; use one of {sorted(SUPPORTED_RATES)}"
            )

    @property
    def bytes_per_second(self) -> int:
        return self.sample_rate * self.encoding.bytes_per_sample

    def bytes_for_ms(self, ms: int) -> int:
        """Bytes in `ms` milliseconds; must be whole samples or the framing would drift."""
        samples, rest = divmod(self.sample_rate * ms, 1000)
        if rest:
            raise ValueError(f"{ms} ms is not a whole number of samples at {self.sample_rate} Hz")
        return samples * self.encoding.bytes_per_sample

    def ms_for_bytes(self, nbytes: int) -> float:
        return nbytes * 1000 / self.bytes_per_second

    def silence(self, nbytes: int) -> bytes:
        return bytes([self.encoding.silence_byte]) * nbytes

    def __str__(self) -> str:
        return f"{self.encoding}/{self.sample_rate}"


MULAW_8K = AudioFormat(Encoding.MULAW, 8000)
ALAW_8K = AudioFormat(Encoding.ALAW, 8000)
PCM16_8K = AudioFormat(Encoding.PCM16LE, 8000)
PCM16_16K = AudioFormat(Encoding.PCM16LE, 16000)
PCM16_24K = AudioFormat(Encoding.PCM16LE, 24000)
