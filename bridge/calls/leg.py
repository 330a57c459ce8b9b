"""One party's side of a call: their carrier call, and the media stream that carries it now."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.audio.converter import Converter
from bridge.calls.barge_in import BargeInWatch
from bridge.calls.connection import LegConnection
from bridge.calls.model import Role
from bridge.calls.summary import LegSummary
from bridge.metrics import LegSample


@dataclass(slots=True)
class Leg:
    role: Role
    carrier: str | None = None  # the carrier's name (bridge/carriers/registry.py)
    carrier_call_id: str | None = None
    connection: LegConnection | None = None
    to_kallglot: Converter | None = None  # carrier format -> Kallglot input, once the call is live
    barge_in: BargeInWatch | None = None  # watches the party's voice, where the route asks
    hears_me: Leg | None = None  # the leg that also hears this party's own voice, if any
    answered_at: float | None = None
    gone: bool = False  # the carrier call is over: nothing to hang up

    def sample(self) -> LegSample | None:
        """Counters for metrics (None while no stream is up)."""
        connection = self.connection
        if connection is None:
            return None
        stats = connection.buffer.stats
        return LegSample(
            frames_in=connection.frames_in,
            frames_out=stats.frames_sent,
            underflows=stats.underflows,
            frames_dropped=stats.frames_dropped,
            queued_frames=connection.buffer.queued_frames,
        )

    def summary(self) -> LegSummary:
        connection = self.connection
        if connection is None:
            return LegSummary(self.carrier, self.carrier_call_id)
        stats = connection.buffer.stats
        return LegSummary(
            carrier=self.carrier,
            carrier_call_id=self.carrier_call_id,
            stream_id=connection.stream_id,
            streams=1,  # a ticket admits one stream per leg
            frames_in=connection.frames_in,
            frames_out=stats.frames_sent,
            frames_heard=stats.frames_heard,
            frames_dropped=stats.frames_dropped,
            underflows=stats.underflows,
            frames_inserted=connection.buffer.frames_inserted,
            frames_compacted=connection.buffer.frames_compacted,
            tails_flushed=stats.tails_flushed,
        )
