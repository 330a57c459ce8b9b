"""What happens when a listener starts talking over the translation they are hearing.

Interpreters finish the sentence, so the default is to do nothing. A route may instead `clear`
(the rest of the translation is dropped here and at the carrier, so the listener is heard at
once) or `duck` it (the rest plays on, quietly). The listener's own voice is watched by a
cheap detector (bridge/audio/voice_activity.py) on the audio their carrier sends us anyway;
Kallglot sends no barge-in events (kallglot-api.md §4.9). Only a talkspurt's onset acts, and
only while something is playing to them: a cough into silence changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from bridge.audio.voice_activity import VoiceActivityDetector
from bridge.calls.connection import LegConnection

DUCK_DB = -18.0  # quiet enough to talk over, loud enough to follow


class BargeIn(StrEnum):
    OFF = "off"
    CLEAR = "clear"
    DUCK = "duck"


class BargeInWatch:
    """One listener's leg: their voice in, the policy applied to what is playing to them."""

    __slots__ = ("_connection", "_detector", "_frame_bytes", "_on_barge_in", "policy")

    def __init__(
        self,
        policy: BargeIn,
        connection: LegConnection,
        on_barge_in: Callable[[BargeIn], None] = lambda _: None,
    ) -> None:
        self.policy = policy
        self._connection = connection
        fmt = connection.messages.media_format
        self._detector = VoiceActivityDetector(fmt)
        self._frame_bytes = fmt.bytes_for_ms(20)
        self._on_barge_in = on_barge_in

    def heard(self, audio: bytes) -> None:
        """The listener's own voice as their carrier sent it (hot path: cheap unless they start
        talking). The detector's timing is tuned in 20 ms frames; carriers that send larger
        chunks (Exotel's 100 ms) are fed to it 20 ms at a time."""
        size = self._frame_bytes
        if len(audio) <= size:
            onset = self._detector.push(audio)
        else:
            onsets = [self._detector.push(audio[i : i + size]) for i in range(0, len(audio), size)]
            onset = any(onsets)
        if not onset:
            return
        connection = self._connection
        buffer = connection.buffer
        if not buffer.queued_frames and buffer.buffered_at_carrier_s() <= 0:
            return  # nothing is playing to them
        if self.policy is BargeIn.CLEAR:
            connection.clear()
        else:
            buffer.duck(DUCK_DB)
        self._on_barge_in(self.policy)
