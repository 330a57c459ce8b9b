"""The party at the far end of a simulated call, whichever carrier's: its voice, its keys, and
the faults a test causes on its media stream.

Every carrier simulator's call (carrier_call.py, telnyx_call.py, vonage_call.py, plivo_call.py,
exotel_call.py) is this party plus the carrier's own signalling, so a test drives a call the same
way on all five: `speak`, `press`, `drop_stream`, `stall`. Where each call keeps its media stream
differs (a stream task of its own, a runner that sets it), so each says so in `_stream`.
"""

from __future__ import annotations

import asyncio

from bridge.sim.carrier_stream import StreamSession
from bridge.sim.softphone import Phone
from bridge.sim.softphone_record import Recording

PCM_FRAME = 320  # 20 ms of 8 kHz PCM16


class SimulatedParty(Recording):
    """A simulated call seen from the party at its far end (callee or caller).

    Its voice is `Phone.audio`, then whatever `speak` adds, handed out 20 ms at a time by
    `next_frame` to the media stream that is up; `SILENCE_FRAME` and `_encode` say in which
    encoding (8 kHz PCM16 unless a carrier's stream wants its own).
    """

    sid: str
    SILENCE_FRAME = bytes(PCM_FRAME)  # 20 ms of the party's silence, as `next_frame` gives it

    def __init__(self, phone: Phone | None) -> None:
        super().__init__()
        self.keypad: asyncio.Queue[str] = asyncio.Queue()  # keys for the carrier's next prompt
        for key in phone.digits if phone else "":
            self.keypad.put_nowait(key)
        self._speech = self._encode(phone.audio if phone else b"")
        self._spoken = 0

    def _stream(self) -> StreamSession | None:
        """The media stream up now, if any."""
        raise NotImplementedError

    def _encode(self, pcm: bytes) -> bytes:
        """The party's voice (8 kHz PCM16) in the encoding `next_frame` gives."""
        return pcm

    def speak(self, pcm: bytes) -> None:
        """The party starts saying `pcm` (8 kHz PCM16) now, after whatever it has not said yet.

        Tests speak once the call is bridged, so that every word can be accounted for.
        """
        self._speech = self._speech[self._spoken :] + self._encode(pcm)
        self._spoken = 0

    def next_frame(self) -> bytes:
        """The party's next 20 ms of voice; silence once the script is spoken."""
        size = len(self.SILENCE_FRAME)
        frame = self._speech[self._spoken : self._spoken + size]
        self._spoken += len(frame)
        return frame + self.SILENCE_FRAME[len(frame) :]

    async def press(self, digits: str) -> None:
        """Keys pressed now: `dtmf` on the media stream while one is up, else kept in `keypad`
        for the carrier's next prompt (Gather, gather, input, GetDigits)."""
        for key in digits:
            stream = self._stream()
            if stream is not None:
                await stream.send_dtmf(key)
                self.digits_sent.append(key)
                self._key_streamed(key)
            else:
                self._key_unstreamed(key)

    def _key_streamed(self, key: str) -> None:
        """What else the carrier does with a key the stream carried (by default nothing)."""

    def _key_unstreamed(self, key: str) -> None:
        """A key pressed with no stream up: kept for the next prompt."""
        self.keypad.put_nowait(key)

    def drop_stream(self) -> None:
        """Fault: the media stream's connection is lost mid-call, no `stop` (see
        StreamSession.drop); nothing happens when no stream is up."""
        stream = self._stream()
        if stream is not None:
            stream.drop()

    def stall(self, seconds: float) -> None:
        """Fault: the media stream freezes for `seconds` (see StreamSession.stall)."""
        stream = self._stream()
        if stream is None:
            raise RuntimeError(f"call {self.sid} has no media stream to stall")
        stream.stall(seconds)


async def ring(phone: Phone, timeout_s: float) -> str:
    """Rings `phone` until it answers, refuses or `timeout_s` runs out; how that went: "answer",
    "no-answer" (it never answers), "timeout" (it would answer, but later than `timeout_s`), or
    the phone's own refusal ("busy", "failed"). Each carrier names these outcomes its own way."""
    if phone.answer == "no-answer" or (phone.answer == "answer" and phone.ring_s > timeout_s):
        await asyncio.sleep(min(phone.ring_s, timeout_s))
        return "no-answer" if phone.answer == "no-answer" else "timeout"
    await asyncio.sleep(phone.ring_s)
    return phone.answer
