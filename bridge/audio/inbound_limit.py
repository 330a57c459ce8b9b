"""How much audio a media stream may deliver: never much more than time has passed.

A carrier sends audio as it is spoken, so over any stretch of a call the audio received cannot
run ahead of the wall clock by more than jitter. A peer that sends faster (a replayed recording,
a flood) would have all of it forwarded to Kallglot, which bills and rate-limits the session,
so such a stream is a protocol violation. What is allowed: falling behind and catching up in a
burst (a network stall delivers its backlog at once), a carrier clock a few per cent fast, and
a start-up burst. What is not: a payload longer than `max_payload_ms`, or audio running more
than `burst_s` ahead of real time (with `tolerance` for clock drift). At twice real time the
second rule trips after about `burst_s` seconds; at ten times, within a quarter second.

Pure arithmetic on numbers the caller passes in (bytes and a monotonic clock reading), so the
media pump pays two additions and a comparison per frame.
"""

from __future__ import annotations

from bridge.audio.formats import AudioFormat

MAX_PAYLOAD_MS = 200  # Twilio sends 20 ms; ten times that is no carrier's frame
BURST_S = 2.0
TOLERANCE = 0.05  # a carrier clock 5 % fast (crystals are within 0.1 %)


class InboundLimit:
    __slots__ = (
        "_max_payload",
        "_seconds_per_byte",
        "burst_s",
        "max_payload_ms",
        "received_s",
        "started_at",
        "tolerance",
    )

    def __init__(
        self,
        fmt: AudioFormat,
        started_at: float,
        *,
        max_payload_ms: int = MAX_PAYLOAD_MS,
        burst_s: float = BURST_S,
        tolerance: float = TOLERANCE,
    ) -> None:
        """`started_at`: the monotonic time the stream started."""
        self.started_at = started_at
        self.max_payload_ms = max_payload_ms
        self.burst_s = burst_s
        self.tolerance = tolerance
        self.received_s = 0.0
        self._max_payload = fmt.bytes_per_second * max_payload_ms // 1000
        self._seconds_per_byte = 1.0 / fmt.bytes_per_second

    def check(self, nbytes: int, now: float) -> str | None:
        """Counts a payload of `nbytes` arriving at `now`; why the stream broke the limit, or
        None when it did not."""
        if nbytes > self._max_payload:
            return (
                f"media payload of {nbytes} bytes ({nbytes * self._seconds_per_byte * 1000:.0f} "
                f"ms) is over the {self.max_payload_ms} ms maximum"
            )
        self.received_s += nbytes * self._seconds_per_byte
        elapsed = now - self.started_at
        if self.received_s > elapsed * (1 + self.tolerance) + self.burst_s:
            return (
                f"media faster than real time: {self.received_s:.1f} s of audio in {elapsed:.1f} s"
            )
        return None
