"""The simulator's "translation": the speaker's own samples, addressed to the other party.

Identity translation makes the audio path testable: every output chunk is an input chunk, in order,
re-encoded into the output format, so a test can prove which input reached which leg and that
nothing was lost, duplicated or reordered. Transcripts come from a simple energy detector per
speaker, so their timing follows the speech. This module is sans-I/O: it returns message dicts.
"""

from __future__ import annotations

import audioop
import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bridge.audio import MULAW_8K, PCM16_16K, AudioFormat, Converter
from bridge.audio import codecs as audio_codecs
from bridge.kallglot import messages as m
from bridge.kallglot.models import Mode
from bridge.sim.kallglot_state import SessionRecord, iso

OTHER = {"customer": "agent", "agent": "customer"}


@dataclass(frozen=True, slots=True)
class OutputShape:
    """Where the translated-audio message puts its fields (the real shape is undocumented)."""

    type: str = m.AUDIO_OUTPUT
    nested: bool = True  # payload and format under "audio" (else top level)
    payload_key: str = "payload"
    rate_key: str = "sample_rate_hz"
    target_key: str = "target"


NESTED = OutputShape()
FLAT = OutputShape(type="audio", nested=False, payload_key="data", rate_key="sample_rate")
SHAPES = {"nested": NESTED, "flat": FLAT}


@dataclass(frozen=True, slots=True)
class Segmentation:
    threshold_rms: int = 300
    hangover_ms: int = 300  # this much quiet ends an utterance
    partial_every_ms: int = 500


@dataclass(slots=True)
class _Voice:
    speaking: bool = False
    count: int = 0
    samples: int = 0  # since the utterance began
    quiet: int = 0  # trailing quiet samples
    since_partial: int = 0
    rate: int = 8000


class Translator:
    """One per stream connection. `audio()` returns (audio messages, transcript messages)."""

    def __init__(
        self,
        record: SessionRecord,
        *,
        legacy: bool,
        shape: OutputShape,
        seg: Segmentation,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.record = record
        self._now = now
        self.legacy = legacy
        self.shape = shape
        self.seg = seg
        self.output_format = PCM16_16K if legacy else MULAW_8K
        self._converters: dict[str, Converter] = {}
        self._voices: dict[str, _Voice] = {}

    def speaks_aloud(self, speaker: str) -> bool:
        """Whose speech comes back as translated audio, by mode (kallglot-api.md §7.1)."""
        if self.record.mode == Mode.BIDIRECTIONAL_TRANSLATION:
            return True
        return self.record.mode == Mode.ASSISTIVE_TRANSLATION and speaker == "agent"

    def audio(
        self, speaker: str, fmt: AudioFormat, data: bytes
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        out: list[dict[str, Any]] = []
        if self.speaks_aloud(speaker) and speaker in OTHER:
            converted = self._convert(speaker, fmt, data)
            if converted:
                out.append(self._audio_message(speaker, converted))
        return out, self._segment(speaker, fmt, data)

    def finish(self) -> list[dict[str, Any]]:
        """End of stream: converter tails and the final transcript of any open utterance."""
        messages: list[dict[str, Any]] = []
        for speaker, converter in self._converters.items():
            tail = converter.flush()
            if tail:
                messages.append(self._audio_message(speaker, tail))
        for speaker, voice in self._voices.items():
            if voice.speaking:
                messages.append(self._final(speaker, voice))
        return messages

    def _convert(self, speaker: str, fmt: AudioFormat, data: bytes) -> bytes:
        if fmt == self.output_format:
            return data
        converter = self._converters.get(speaker)
        if converter is None or converter.src != fmt:
            converter = self._converters[speaker] = Converter(fmt, self.output_format)
        return converter.convert(data)

    def _audio_message(self, speaker: str, data: bytes) -> dict[str, Any]:
        record, shape, fmt = self.record, self.shape, self.output_format
        record.output_sequence += 1
        target = OTHER[speaker]
        record.record_output(target, data)
        fields = {
            "encoding": m.wire_name(fmt),
            shape.rate_key: fmt.sample_rate,
            shape.payload_key: base64.b64encode(data).decode("ascii"),
        }
        message: dict[str, Any] = {
            "type": shape.type,
            "sequence": record.output_sequence,
            "speaker": speaker,
            shape.target_key: target,
        }
        if shape.nested:
            message["audio"] = fields
        else:
            message.update(fields)
        return message

    def _segment(self, speaker: str, fmt: AudioFormat, data: bytes) -> list[dict[str, Any]]:
        voice = self._voices.get(speaker)
        if voice is None:
            voice = self._voices[speaker] = _Voice(rate=fmt.sample_rate)
        width = fmt.encoding.bytes_per_sample
        pcm = audio_codecs.decode(fmt.encoding, data[: len(data) - len(data) % width])
        samples = len(pcm) // 2
        loud = samples > 0 and audioop.rms(pcm, 2) >= self.seg.threshold_rms
        if not voice.speaking:
            if not loud:
                return []
            voice.speaking, voice.samples, voice.quiet, voice.since_partial = True, 0, 0, 0
            self.record.utterances[speaker] += 1
            voice.count = self.record.utterances[speaker]
        voice.samples += samples
        voice.quiet = 0 if loud else voice.quiet + samples
        if voice.quiet * 1000 >= self.seg.hangover_ms * voice.rate:
            return [self._final(speaker, voice)]
        voice.since_partial += samples
        if voice.since_partial * 1000 >= self.seg.partial_every_ms * voice.rate:
            voice.since_partial = 0
            return [self._partial(speaker, voice)]
        return []

    def _languages(self, speaker: str) -> tuple[str, str]:
        src = self.record.source_language or "und"
        dst = self.record.target_language or "und"
        return (src, dst) if speaker == "customer" else (dst, src)

    def _text(self, speaker: str, voice: _Voice) -> str:
        seconds = (voice.samples - voice.quiet) / voice.rate
        return f"{speaker} utterance {voice.count} ({seconds:.1f} s)"

    def _partial(self, speaker: str, voice: _Voice) -> dict[str, Any]:
        language, _ = self._languages(speaker)
        text = self._text(speaker, voice)
        if self.legacy:
            return self._legacy(speaker, voice, language, text, None, final=False)
        return {
            "type": m.TRANSCRIPT_PARTIAL,
            "speaker": speaker,
            "language": language,
            "text": text,
        }

    def _final(self, speaker: str, voice: _Voice) -> dict[str, Any]:
        voice.speaking = False
        language, other = self._languages(speaker)
        text = self._text(speaker, voice)
        translation = {"language": other, "text": f"[{other}] {text}"}
        self.record.turns.append(
            {
                "sequence": len(self.record.turns) + 1,
                "speaker": speaker,
                "language": language,
                "text": text,
                "translation": translation,
                "timestamp": iso(self._now()),
            }
        )
        self.record.changed.fire()
        if self.legacy:
            return self._legacy(speaker, voice, language, text, translation["text"], final=True)
        return {
            "type": m.TRANSCRIPT_FINAL,
            "speaker": speaker,
            "language": language,
            "text": text,
            "translation": translation,
        }

    def _legacy(
        self,
        speaker: str,
        voice: _Voice,
        language: str,
        text: str,
        translation: str | None,
        *,
        final: bool,
    ) -> dict[str, Any]:
        """OLD `transcript`: `is_final`, a segment id, and the translation as a plain string."""
        message: dict[str, Any] = {
            "type": m.LEGACY_TRANSCRIPT,
            "id": f"seg_{self.record.id}_{speaker}_{voice.count}",
            "speaker": speaker,
            "language": language,
            "text": text,
            "is_final": final,
            "confidence": 0.9,
        }
        if translation is not None:
            message["translation"] = translation
        return message
