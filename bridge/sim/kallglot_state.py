"""What the Kallglot simulator remembers, as plain objects tests read and await.

Every record change fires a `Pulse`, so a test waits for a condition ("session ended", "N bytes
received") instead of sleeping and hoping.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from bridge.audio import AudioFormat

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """ULID-shaped ids (`sess_01H...`): opaque, unique, and they look like the real thing."""
    return prefix + "".join(secrets.choice(CROCKFORD) for _ in range(26))


def iso(unix: float) -> str:
    """Unix seconds as ISO-8601 UTC with millisecond precision, as Kallglot writes timestamps."""
    return (
        datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class Pulse:
    """A broadcast "something changed": waiters re-check their predicate on every fire."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def fire(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Returns once `predicate()` holds. No timeout of its own: callers wrap the wait in
        `asyncio.timeout`, which is where a test states how long is too long."""
        while not predicate():
            if self._event is None:
                self._event = asyncio.Event()
            await self._event.wait()


@dataclass
class Faults:
    """Failure injection, changed freely by tests between (or during) calls."""

    rest_latency_s: float = 0.0
    # Statuses for the next creates, one per request: (status, after_commit). After-commit means the
    # session was created and billed but the answer was lost (a gateway 502, say).
    create_failures: list[tuple[int, bool]] = field(default_factory=list)
    retry_after_s: float | None = None  # Retry-After on injected 429/503/409
    drop_after_s: float | None = None  # every stream closes this long after it connects
    drop_code: int = 1012  # "service restart"
    stall: bool = False  # streams stop answering and sending, but stay open
    refuse_reconnects: bool = False  # any connect after a session's first is refused
    inactive: bool = False  # 403 organization_inactive on REST
    # Calls (by the `call_id` their creates carry in `metadata`) Kallglot is unreachable for: their
    # REST requests and stream connections are cut without an answer (KallglotSimulator.cut_off).
    cut_off: set[str] = field(default_factory=set)
    # Told of each call the first time a create names it, before that create is served: where a
    # test decides a call's fate (e.g. cuts it off from its very first request).
    on_new_call: Callable[[str], None] | None = None

    def to_json(self) -> dict[str, Any]:
        """The faults as JSON (the debug view): sets as sorted lists, hooks left out."""
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "on_new_call"}
        shown["cut_off"] = sorted(self.cut_off)
        return shown

    def fail_next_creates(
        self,
        status: int,
        count: int = 1,
        *,
        retry_after: float | None = None,
        after_commit: bool | None = None,
    ) -> None:
        """`count` creates answer `status`. By default 500/502 happen after the session was
        created (a lost response, which only idempotency can make safe), 429/503 before."""
        commit = status in (500, 502) if after_commit is None else after_commit
        self.create_failures.extend([(status, commit)] * count)
        if retry_after is not None:
            self.retry_after_s = retry_after


@dataclass(eq=False)
class SessionRecord:
    id: str
    mode: str
    source_language: str | None
    target_language: str | None
    metadata: dict[str, Any]
    created_at: float
    idempotency_key: str | None
    stream_base: str  # ws://host:port
    status: str = "created"
    started_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    ended_transitions: int = 0  # must stay 1 however many times the session is ended
    protocol: str | None = None  # "current" or "legacy", from the first audio message
    connections: int = 0  # accepted stream connections
    refused_connections: int = 0  # refused by the refuse_reconnects fault
    token_refusals: int = 0  # handshakes refused for a bad or expired token
    # Raw audio and every sequence are kept only with `keep_audio` (tests); a long benchmark
    # would otherwise hold 16 kB/s per session. The counters below are always kept.
    keep_audio: bool = True
    received_audio: dict[str, bytearray] = field(default_factory=dict)  # as received, per speaker
    sent_audio: dict[str, bytearray] = field(default_factory=dict)  # translated, per target
    sequences: list[int] = field(default_factory=list)
    received_bytes: Counter[str] = field(default_factory=Counter)
    sent_bytes: Counter[str] = field(default_factory=Counter)
    received_format: dict[str, AudioFormat] = field(default_factory=dict)
    received_chunks: Counter[str] = field(default_factory=Counter)
    last_sequence: int | None = None
    sequence_regressions: int = 0  # audio whose sequence was not above the previous one
    messages: Counter[str] = field(default_factory=Counter)  # by type
    errors_sent: list[str] = field(default_factory=list)  # session.error codes
    turns: list[dict[str, Any]] = field(default_factory=list)
    utterances: Counter[str] = field(default_factory=Counter)  # per speaker, across connections
    output_sequence: int = 0
    # Talkspurt mode: per target party, perf_counter() when each utterance's last audio message
    # was sent (the end of its tail, to time against when the party heard it).
    utterance_ends: dict[str, list[float]] = field(default_factory=dict)
    changed: Pulse = field(default_factory=Pulse, repr=False)

    @property
    def ended(self) -> bool:
        return self.status == "ended"

    def audio_bytes(self, speaker: str) -> int:
        return self.received_bytes[speaker]

    async def wait_for(self, predicate: Callable[[SessionRecord], bool]) -> None:
        await self.changed.wait_for(lambda: predicate(self))

    async def wait_ended(self) -> None:
        await self.wait_for(lambda r: r.ended)

    async def wait_received(self, speaker: str, nbytes: int) -> None:
        await self.wait_for(lambda r: r.audio_bytes(speaker) >= nbytes)

    def record_audio(
        self, speaker: str, fmt: AudioFormat, data: bytes, sequence: int | None
    ) -> None:
        self.received_bytes[speaker] += len(data)
        self.received_chunks[speaker] += 1
        self.received_format.setdefault(speaker, fmt)
        if sequence is not None:
            if self.last_sequence is not None and sequence <= self.last_sequence:
                self.sequence_regressions += 1
            self.last_sequence = sequence
        if self.keep_audio:
            self.received_audio.setdefault(speaker, bytearray()).extend(data)
            if sequence is not None:
                self.sequences.append(sequence)
        self.changed.fire()

    def record_output(self, target: str, data: bytes) -> None:
        self.sent_bytes[target] += len(data)
        if self.keep_audio:
            self.sent_audio.setdefault(target, bytearray()).extend(data)

    def summary(self) -> dict[str, Any]:
        """JSON-safe view for the debug endpoint: sizes and counts, never audio."""
        return {
            "id": self.id,
            "mode": self.mode,
            "status": self.status,
            "protocol": self.protocol,
            "connections": self.connections,
            "refused_connections": self.refused_connections,
            "token_refusals": self.token_refusals,
            "end_reason": self.end_reason,
            "ended_transitions": self.ended_transitions,
            "received_bytes": dict(self.received_bytes),
            "received_chunks": dict(self.received_chunks),
            "sent_bytes": dict(self.sent_bytes),
            "last_sequence": self.last_sequence,
            "sequence_regressions": self.sequence_regressions,
            "messages": dict(self.messages),
            "errors_sent": list(self.errors_sent),
            "turns": len(self.turns),
        }


@dataclass
class IdempotencyEntry:
    fingerprint: str  # method, path and canonical body
    created_at: float
    status: int | None = None  # None while the first request is still running
    body: dict[str, Any] | None = None


@dataclass
class WebhookDelivery:
    event_id: str
    event_type: str
    delivery_id: str
    attempts: list[str] = field(default_factory=list)  # "200", "500", "ClientConnectorError"...
    delivered: bool = False
    failed: bool = False
