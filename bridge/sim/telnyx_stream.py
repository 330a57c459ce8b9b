"""Telnyx's end of one media stream, run by the carrier-neutral `StreamSession`.

Every frame comes from the bridge's own `TelnyxCarrierSide` (carriers.md §4.2/§4.3); this
module adds what makes it Telnyx on the wire: the auth token (header and `connected` frame),
the negotiated codec in both directions (PCMU or PCMA; what the party hears is recorded as
mu-law, as for Twilio, so tests compare the same bytes whatever the codec), an `error` frame
for a frame Telnyx refuses, and two quirks (telnyx_quirks.py): frames sent out of order, and
raw audio dropped in the default `mp3` bidirectional mode.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.carriers.base import Command, PlayAudio, ProtocolViolation
from bridge.carriers.telnyx.protocol import INVALID_MEDIA, MALFORMED_FRAME, TelnyxCarrierSide
from bridge.sim.telnyx_fields import StreamRequest
from bridge.sim.telnyx_quirks import TelnyxQuirks

ERROR_TITLES = {MALFORMED_FRAME: "malformed_frame", INVALID_MEDIA: "invalid_media"}
ENCODINGS = {"PCMU": Encoding.MULAW, "PCMA": Encoding.ALAW}


class DroppedInMp3Mode(ProtocolViolation):
    """Raw audio in `mp3` mode: Telnyx drops it without a word (no `error` frame)."""


class TelnyxMediaSide:
    """A `MediaSide` for `StreamSession`: one Telnyx stream's frames, codecs and quirks.

    `speak` gives the party's next 20 ms as 8 kHz PCM16 (320 bytes).
    """

    def __init__(
        self,
        side: TelnyxCarrierSide,
        request: StreamRequest,
        quirks: TelnyxQuirks,
        speak: Callable[[], bytes],
    ) -> None:
        self._side, self._request, self._quirks, self._speak = side, request, quirks, speak
        self._out = ENCODINGS[request.codec]
        self._back = ENCODINGS[request.bidirectional_codec]
        self._drops_audio = request.bidirectional_mode == "mp3" and quirks.mp3_drops_audio
        self._chunk = 0
        self._held: tuple[int, bytes] | None = None

    @property
    def stream_sid(self) -> str:
        return self._side.stream_id

    def connected(self) -> str:
        return self._side.connected(self._request.auth_token)

    def start(self, custom_parameters: Mapping[str, str]) -> str:
        return self._side.start(custom_parameters)

    def dtmf(self, digit: str) -> str:
        return self._side.dtmf(digit)

    def mark(self, name: str) -> str:
        return self._side.mark(name)

    def stop(self) -> str:
        return self._side.stop()

    def line(self) -> list[str]:
        """This tick's frames: usually the next chunk; with the swap quirk, chunk n (a multiple
        of `swap_every`) is held back one tick and goes out right after chunk n + 1."""
        self._chunk += 1
        chunk, payload = self._chunk, codecs.encode(self._out, self._speak())
        every = self._quirks.swap_every
        if every and chunk % every == 0:
            self._held = (chunk, payload)
            return []
        frames = [(chunk, payload)]
        if self._held is not None:
            frames.append(self._held)
            self._held = None
        return [self._side.media(audio, chunk=number) for number, audio in frames]

    def parse(self, message: str | bytes) -> Command:
        """The bridge's frame as Telnyx takes it; audio comes back as mu-law for `Playout`."""
        command = self._side.parse(message)
        if isinstance(command, PlayAudio):
            if self._drops_audio:
                raise DroppedInMp3Mode(
                    f"{len(command.payload)} bytes of raw audio dropped: the stream is in mp3 "
                    "bidirectional mode (stream_bidirectional_mode 'rtp' plays raw audio)",
                    INVALID_MEDIA,
                )
            if self._back is not Encoding.MULAW:
                pcm = codecs.decode(self._back, command.payload)
                return PlayAudio(codecs.encode(Encoding.MULAW, pcm))
        return command

    def refusal(self, violation: ProtocolViolation) -> str | None:
        """Telnyx's `error` frame for a refused frame (none for the mp3 drop: it is silent)."""
        if isinstance(violation, DroppedInMp3Mode) or violation.code is None:
            return None
        title = ERROR_TITLES.get(violation.code, "unknown_error")
        return self._side.error(str(violation.code), title, violation.reason)
