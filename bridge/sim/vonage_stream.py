"""Vonage's end of one media stream, run by the carrier-neutral `StreamSession`.

Every frame comes from the bridge's own `VonageCarrierSide` (carriers.md §5.2); this module
adds what makes it Vonage on the wire and a phone at the far end:
- The party speaks 8 kHz PCM (the softphone's); at 16 or 24 kHz it is resampled up with soxr,
  one stream-long resampler, and cut into exact 20 ms frames. soxr gives its output in bursts
  (~100 ms at a time for 20 ms in), so 160 ms of silence primes the cut and every tick has a
  whole frame: Vonage sends exactly one per 20 ms, and a frame padded mid-speech would put a
  gap in the voice (counted in `padded`; none in practice).
- What the party hears is recorded as 8 kHz mu-law, like every simulated carrier's, so tests
  compare the same bytes whatever the rate (at 8 kHz byte for byte; above, through soxr at its
  quick quality: HQ's ~100 ms bursts would reach the loudspeaker as gaps, and what the bridge
  sends a phone holds nothing above 4 kHz that skipping the anti-alias filter could fold).
- Vonage buffers 1024 messages (~20 s); one more is dropped and a warning recorded.
- `clear` is answered with `websocket:cleared`, on the line's next tick (the session echoes
  the pending notifies; Vonage's own order between the two is not documented).
There is no stop frame and no opening frame before `websocket:connected`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bridge.audio import codecs
from bridge.audio.converter import Converter
from bridge.audio.formats import PCM16_8K, AudioFormat, Encoding
from bridge.carriers.base import ClearAudio, Command, PlayAudio, ProtocolViolation
from bridge.carriers.vonage.protocol import BUFFER_FULL, VonageCarrierSide

MAX_BUFFERED_MESSAGES = 1024  # Vonage's playback buffer (older docs; carriers.md §5.2)
PRIMING_FRAMES = 8  # more than soxr's HQ bursts ever leave the cut short (5.7 frames at 16 kHz)
MULAW_8K = AudioFormat(Encoding.MULAW, 8000)


class VonageMediaSide:
    """A `MediaSide` for `StreamSession`. `speak` gives the party's next 20 ms as 8 kHz PCM16."""

    def __init__(
        self,
        stream_sid: str,
        rate: int,
        speak: Callable[[], bytes],
        max_buffered: int = MAX_BUFFERED_MESSAGES,
    ) -> None:
        self._sid = stream_sid
        self._side = VonageCarrierSide(rate)
        self._speak = speak
        self._max_buffered = max_buffered
        wide = AudioFormat(Encoding.PCM16LE, rate)
        self._up = Converter(PCM16_8K, wide) if rate != 8000 else None
        self._down = Converter(wide, MULAW_8K, "QQ") if rate != 8000 else None
        primed = PRIMING_FRAMES * self._side.frame_bytes if self._up is not None else 0
        self._said = bytearray(primed)
        self._buffered = 0  # messages queued at "Vonage", one played per tick
        self._cleared = False
        self.dropped = 0  # messages refused because the buffer was full
        self.padded = 0  # frames of the party's voice completed with silence (see above)

    @property
    def stream_sid(self) -> str:
        return self._sid

    def connected(self) -> None:
        return None  # websocket:connected is the first frame, and it is `start`

    def start(self, custom_parameters: Mapping[str, str]) -> str:
        return self._side.connected(custom_parameters)

    def dtmf(self, digit: str) -> str:
        return self._side.dtmf(digit)

    def mark(self, name: str) -> str:
        return self._side.notify({"name": name})

    def stop(self) -> None:
        return None  # Vonage just closes

    def line(self) -> list[str | bytes]:
        """This tick's frames: `websocket:cleared` if a clear came, then one frame of voice."""
        frames: list[str | bytes] = []
        if self._cleared:
            self._cleared = False
            frames.append(self._side.cleared())
        self._buffered = max(0, self._buffered - 1)
        pcm = self._speak()
        if self._up is None:
            frames.append(self._side.media(pcm))
            return frames
        size = self._side.frame_bytes
        self._said += self._up.convert(pcm)
        if len(self._said) < size:  # the resampler held more than the priming: a gap
            self.padded += 1
            self._said += bytes(size - len(self._said))
        frame = bytes(self._said[:size])
        del self._said[:size]
        frames.append(self._side.media(frame))
        return frames

    def parse(self, message: str | bytes) -> Command:
        """The bridge's frame as Vonage takes it; audio comes back as mu-law for `Playout`."""
        command = self._side.parse(message)
        if isinstance(command, PlayAudio):
            if self._buffered >= self._max_buffered:
                self.dropped += 1
                raise ProtocolViolation(
                    f"Vonage's buffer holds {self._max_buffered} messages (~20 s): this one "
                    "was dropped (pace audio to the call's clock)",
                    BUFFER_FULL,
                )
            self._buffered += 1
            if self._down is None:
                return PlayAudio(codecs.encode(Encoding.MULAW, command.payload))
            return PlayAudio(self._down.convert(command.payload))
        if isinstance(command, ClearAudio):
            self._buffered = 0
            self._cleared = True
        return command
