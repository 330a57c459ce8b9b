"""The simulator's "translation": the speaker's own samples, addressed to the other party.

Identity translation makes the audio path testable: every output chunk is an input chunk, in order,
re-encoded into the output format, so a test can prove which input reached which leg and that
nothing was lost, duplicated or reordered. Transcripts come from a simple energy detector per
speaker, so their timing follows the speech. This module is sans-I/O: it returns message dicts.

By default every input chunk comes back (silence too), one message per chunk: a continuous
stream. Real translation comes in talkspurts, which is what a playout buffer must survive, so
`talkspurts` returns audio only while the speaker is in an utterance (from the chunk where the
voice starts to the one that ends it with the final transcript, hangover included) and nothing
in between; and `output_chunk_bytes` cuts the output into messages of exactly that size (95 ms,
say, not whole 20 ms frames). In talkspurt mode an utterance's remainder, less the digital
silence it ends with, goes out as a shorter last message when it ends, so nothing is held back
and utterances are not whole frames either (as a real voice's are not), and the time that message is sent is kept
(`SessionRecord.utterance_ends`); otherwise the remainder waits for more audio or `finish()`.
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


def check_chunk_bytes(size: int | None, fmt: AudioFormat) -> int | None:
    """`size` if output in `fmt` can be cut into messages of that many bytes, else ValueError."""
    width = fmt.encoding.bytes_per_sample
    if size is not None and (size <= 0 or size % width):
        raise ValueError(
            f"output_chunk_bytes must be a positive number of whole {width}-byte samples "
            f"({m.wire_name(fmt)} at {fmt.sample_rate} Hz), got {size}"
        )
    return size


class Translator:
    """One per stream connection. `audio()` returns (audio messages, transcript messages).

    `talkspurts`, `output_chunk_bytes`: see the module docstring (ValueError for a chunk size
    that is not whole samples of the output format). The connection reports each message it
    sends to `sent()`, which is how an utterance's end is timed.
    """

    def __init__(
        self,
        record: SessionRecord,
        *,
        legacy: bool,
        shape: OutputShape,
        seg: Segmentation,
        now: Callable[[], float] = time.time,
        talkspurts: bool = False,
        output_chunk_bytes: int | None = None,
    ) -> None:
        self.record = record
        self._now = now
        self.legacy = legacy
        self.shape = shape
        self.seg = seg
        self.output_format = PCM16_16K if legacy else MULAW_8K
        self.talkspurts = talkspurts
        self.output_chunk_bytes = check_chunk_bytes(output_chunk_bytes, self.output_format)
        self._converters: dict[str, Converter] = {}
        self._voices: dict[str, _Voice] = {}
        self._pending: dict[str, bytearray] = {}  # output short of a whole chunk, per speaker
        self._tails: dict[int, str] = {}  # output sequence of an utterance's last message: target

    def speaks_aloud(self, speaker: str) -> bool:
        """Whose speech comes back as translated audio, by mode (kallglot-api.md §7.1)."""
        if self.record.mode == Mode.BIDIRECTIONAL_TRANSLATION:
            return True
        return self.record.mode == Mode.ASSISTIVE_TRANSLATION and speaker == "agent"

    def audio(
        self, speaker: str, fmt: AudioFormat, data: bytes
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        voice = self._voice(speaker, fmt)
        was_speaking, count = voice.speaking, voice.count
        transcripts = self._segment(speaker, fmt, data)  # first: it says if this chunk is voice
        out: list[dict[str, Any]] = []
        if self.speaks_aloud(speaker) and speaker in OTHER:
            if not self.talkspurts:
                out = self._emit(speaker, self._convert(speaker, fmt, data), last=False)
            elif was_speaking or voice.speaking or voice.count != count:  # in an utterance
                ended = not voice.speaking
                out = self._emit(speaker, self._convert(speaker, fmt, data), last=ended)
        return out, transcripts

    def finish(self) -> list[dict[str, Any]]:
        """End of stream: the audio still held (converter tails, a short last chunk), then the
        final transcript of any open utterance."""
        messages: list[dict[str, Any]] = []
        if self.talkspurts:  # between utterances nothing is held: only open ones have a rest
            held = [s for s, voice in self._voices.items() if voice.speaking]
        else:
            held = list(dict.fromkeys([*self._converters, *self._pending]))
        for speaker in held:
            if self.speaks_aloud(speaker) and speaker in OTHER:
                messages += self._emit(speaker, b"", last=True)
        for speaker, voice in self._voices.items():
            if voice.speaking:
                messages.append(self._final(speaker, voice))
        return messages

    def sent(self, message: dict[str, Any], at: float) -> None:
        """The connection sent `message` at `at` (perf_counter()): if it was an utterance's
        last audio, `at` goes to `record.utterance_ends` under the party it was for."""
        target = self._tails.pop(message.get("sequence", -1), None)
        if target is not None and message.get("type") == self.shape.type:
            self.record.utterance_ends.setdefault(target, []).append(at)
            self.record.changed.fire()

    def _emit(self, speaker: str, data: bytes, *, last: bool) -> list[dict[str, Any]]:
        """`data` (converted) as audio messages. `last`: the speaker's audio ends here for now
        (an utterance, or the stream), so the converter and the short remainder go out too."""
        converter = self._converters.get(speaker)
        if last and converter is not None:
            data += converter.flush()
        size = self.output_chunk_bytes
        if size is None:
            pieces = [data] if data else []
        else:
            pending = self._pending.setdefault(speaker, bytearray())
            pending += data
            if last and self.talkspurts:  # an utterance ends where its sound does, not on a chunk
                self._trim_silence(pending)
            cut = len(pending) if last else len(pending) - len(pending) % size
            pieces = [bytes(pending[i : i + size]) for i in range(0, cut, size)]
            del pending[:cut]
        messages = [self._audio_message(speaker, piece) for piece in pieces]
        if last and self.talkspurts and messages:
            self._tails[self.record.output_sequence] = OTHER[speaker]
        return messages

    def _trim_silence(self, pending: bytearray) -> None:
        """Drops the digital silence `pending` ends with (whole samples), but for one sample:
        the utterance still ends with a message of its own, whose sending is its end."""
        width = self.output_format.encoding.bytes_per_sample
        zero = bytes([self.output_format.encoding.silence_byte]) * width
        while len(pending) > width and pending.endswith(zero):
            del pending[-width:]

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

    def _voice(self, speaker: str, fmt: AudioFormat) -> _Voice:
        voice = self._voices.get(speaker)
        if voice is None:
            voice = self._voices[speaker] = _Voice(rate=fmt.sample_rate)
        return voice

    def _segment(self, speaker: str, fmt: AudioFormat, data: bytes) -> list[dict[str, Any]]:
        voice = self._voice(speaker, fmt)
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
