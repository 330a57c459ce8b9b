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

    __slots__ = ("_connection", "_detector", "_on_barge_in", "policy")

    def __init__(
        self,
        policy: BargeIn,
        connection: LegConnection,
        on_barge_in: Callable[[BargeIn], None] = lambda _: None,
    ) -> None:
        self.policy = policy
        self._connection = connection
        self._detector = VoiceActivityDetector(connection.messages.media_format)
        self._on_barge_in = on_barge_in

    def heard(self, frame: bytes) -> None:
        """One frame of the listener's own voice (hot path: cheap unless they start talking)."""
        if not self._detector.push(frame):
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
