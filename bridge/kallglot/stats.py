"""Counters for one stream, cheap to update on the hot path and read by metrics and tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bridge.kallglot.events import AudioOutput, Malformed, ServerEvent, SessionError, Unknown
from bridge.kallglot.outbox import Outbox


@dataclass(slots=True)
class StreamStats:
    outbox: Outbox = field(repr=False)
    chunks_sent: int = 0
    bytes_sent: dict[str, int] = field(default_factory=dict)  # input audio, per speaker
    bytes_received: dict[str, int] = field(default_factory=dict)  # output audio, per speaker
    connections: int = 0
    drops: int = 0
    reconnects: int = 0
    stalls: int = 0
    pings_sent: int = 0
    malformed: int = 0
    unknown: int = 0
    session_errors: int = 0
    # Called with the seconds from a chunk's last byte arriving to it being on the socket, and
    # the chunk's speaker.
    on_chunk_sent: Callable[[float, str], None] | None = field(default=None, repr=False)

    def observe(self, event: ServerEvent) -> None:
        if isinstance(event, AudioOutput):
            key = event.speaker or "?"
            self.bytes_received[key] = self.bytes_received.get(key, 0) + len(event.data)
        elif isinstance(event, Malformed):
            self.malformed += 1
        elif isinstance(event, Unknown):
            self.unknown += 1
        elif isinstance(event, SessionError):
            self.session_errors += 1

    @property
    def bytes_accepted(self) -> dict[str, int]:
        """Input audio handed to `send_audio`, per speaker (sent, queued or dropped)."""
        return dict(self.outbox.accepted_bytes)

    @property
    def dropped_bytes_by_speaker(self) -> dict[str, int]:
        return dict(self.outbox.dropped_bytes)

    @property
    def dropped_bytes(self) -> int:
        """Input audio discarded because the reconnect buffer overflowed."""
        return sum(self.outbox.dropped_bytes.values())

    @property
    def queued_chunks(self) -> int:
        return self.outbox.pending
