"""Helpers shared by the Kallglot client and simulator tests (plain functions, no fixtures)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bridge.audio import Encoding
from bridge.audio.codecs import encode
from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.events import AudioOutput, StreamEvent, Transcript
from bridge.kallglot.stream import KallglotStream
from bridge.sim.kallglot_state import Pulse

# Budgets in milliseconds rather than the production seconds, so failure paths run fast.
FAST: dict[str, Any] = {
    "http_timeout_s": 2.0,
    "retry_total_s": 5.0,
    "retry_base_delay_s": 0.01,
    "retry_max_delay_s": 0.05,
    "connect_timeout_s": 2.0,
    "ping_interval_s": 5.0,
    "pong_timeout_s": 2.0,
    "end_timeout_s": 1.0,
    "reconnect_first_delay_s": 0.02,
    "reconnect_max_delay_s": 0.1,
    "reconnect_total_s": 3.0,
    "reconnect_max_attempts": 50,
}


def fast_settings(api_url: str, api_key: str, **overrides: Any) -> KallglotSettings:
    return KallglotSettings(api_url=api_url, api_key=api_key, **{**FAST, **overrides})


def mulaw(pcm: bytes) -> bytes:
    return encode(Encoding.MULAW, pcm)


def frames(data: bytes, size: int) -> list[bytes]:
    """`data` cut into `size`-byte pieces (the last one may be short), like a carrier sends it."""
    return [data[i : i + size] for i in range(0, len(data), size)]


class EventLog:
    """Collects a stream's events in the background so a test can await conditions on them."""

    def __init__(self, stream: KallglotStream) -> None:
        self.events: list[StreamEvent] = []
        self.done = False
        self._pulse = Pulse()
        self.task = asyncio.create_task(self._collect(stream))

    async def _collect(self, stream: KallglotStream) -> None:
        async for event in stream.events():
            self.events.append(event)
            self._pulse.fire()
        self.done = True
        self._pulse.fire()

    async def wait_for(self, predicate: Callable[[EventLog], bool]) -> None:
        await self._pulse.wait_for(lambda: predicate(self))

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def audio_to(self, target: str) -> bytes:
        return b"".join(e.data for e in self.of(AudioOutput) if e.target == target)

    def transcripts(self, final: bool | None = None) -> list[Transcript]:
        return [t for t in self.of(Transcript) if final is None or t.final is final]
