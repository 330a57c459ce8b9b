"""Prometheus metrics, one registry per application (no process globals, so tests can run many).

Per-frame counts never touch a Prometheus object on the hot path: legs count in plain integers
and a collector sums live legs (plus the totals of ended calls) when /metrics is scraped. Only
per-chunk and per-event figures (latencies, errors, end reasons) are observed as they happen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
REST_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class LegSample(NamedTuple):
    """One leg's counters at one moment."""

    frames_in: int  # from the carrier
    frames_out: int  # to the carrier
    underflows: int
    frames_dropped: int  # playout queue overflow
    queued_frames: int  # playout queue depth now


@dataclass(slots=True)
class LegTotals:
    frames_in: int = 0
    frames_out: int = 0
    underflows: int = 0
    frames_dropped: int = 0

    def add(self, sample: LegSample) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(sample, f.name))


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.calls_started = Counter(
            "bridge_calls_started",
            "Calls that became live on this instance",
            ["direction"],
            registry=r,
        )
        self.calls_ended = Counter(
            "bridge_calls_ended", "Calls ended, by reason", ["reason"], registry=r
        )
        self.added_latency = Histogram(
            "bridge_added_latency_seconds",
            "Delay the bridge adds per chunk: carrier frame in to Kallglot chunk out (inbound, "
            "after batching) and Kallglot chunk in to its first carrier frame out (outbound; "
            "with the original mixed under it, from the original frame that carries it)",
            ["direction"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.kallglot_request_seconds = Histogram(
            "bridge_kallglot_request_seconds",
            "Kallglot REST calls including retries",
            ["operation"],
            buckets=REST_BUCKETS,
            registry=r,
        )
        self.kallglot_errors = Counter(
            "bridge_kallglot_errors", "Kallglot errors, by error code", ["code"], registry=r
        )
        self.carrier_errors = Counter(
            "bridge_carrier_errors",
            "Carrier REST failures, by operation",
            ["operation"],
            registry=r,
        )
        self.kallglot_reconnects = Counter(
            "bridge_kallglot_stream_reconnects",
            "Kallglot streams re-established after a drop",
            registry=r,
        )
        self.webhook_rejections = Counter(
            "bridge_webhook_verification_failures",
            "Webhooks and media upgrades refused for a bad signature or ticket",
            ["source"],
            registry=r,
        )
        self.session_end_attempts = Counter(
            "bridge_kallglot_session_end_attempts",
            "Attempts at ending the Kallglot session of a call that is over, after the call's "
            "own end was not confirmed (or its owner died), by outcome",
            ["outcome"],
            registry=r,
        )
        self.media_refusals = Counter(
            "bridge_media_streams_refused",
            "Media streams refused at `start` (bad or used ticket, another carrier call, "
            "capacity), by reason",
            ["reason"],
            registry=r,
        )
        self.http_refusals = Counter(
            "bridge_http_connections_refused",
            "Connections closed before their first request (header timeout, too many pending)",
            ["reason"],
            registry=r,
        )
        self.barge_ins = Counter(
            "bridge_barge_ins",
            "Listeners who talked over a translation and had it cleared or ducked, by policy",
            ["policy"],
            registry=r,
        )
        self.ended_legs = LegTotals()
        self.inbound_latency = self.added_latency.labels("inbound").observe
        self.outbound_latency = self.added_latency.labels("outbound").observe

    def watch(
        self,
        live_legs: Callable[[], Iterable[LegSample]],
        active_calls: Callable[[], int],
        kallglot_retries: Callable[[], int],
        unconfirmed_sessions: Callable[[], int] = lambda: 0,
    ) -> None:
        """Registers the scrape-time collector over what is live right now."""
        self.registry.register(
            _LiveCollector(self, live_legs, active_calls, kallglot_retries, unconfirmed_sessions)
        )

    def call_ended(self, reason: str, legs: Iterable[LegSample]) -> None:
        self.calls_ended.labels(reason).inc()
        for sample in legs:
            self.ended_legs.add(sample)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _LiveCollector(Collector):
    def __init__(
        self,
        metrics: Metrics,
        live_legs: Callable[[], Iterable[LegSample]],
        active_calls: Callable[[], int],
        kallglot_retries: Callable[[], int],
        unconfirmed_sessions: Callable[[], int],
    ) -> None:
        self._metrics = metrics
        self._live_legs = live_legs
        self._active_calls = active_calls
        self._kallglot_retries = kallglot_retries
        self._unconfirmed_sessions = unconfirmed_sessions

    def collect(self) -> Iterator[Metric]:
        live = list(self._live_legs())
        totals = LegTotals(
            **{f.name: getattr(self._metrics.ended_legs, f.name) for f in fields(LegTotals)}
        )
        for sample in live:
            totals.add(sample)
        yield GaugeMetricFamily(
            "bridge_calls_active", "Calls live on this instance", value=self._active_calls()
        )
        yield GaugeMetricFamily(
            "bridge_legs_active", "Carrier media streams connected", value=len(live)
        )
        queue = GaugeMetricFamily(
            "bridge_playout_queue_frames", "Playout queue depth (20 ms frames)", labels=["stat"]
        )
        depths = [sample.queued_frames for sample in live] or [0]
        queue.add_metric(["sum"], sum(depths))
        queue.add_metric(["max"], max(depths))
        yield queue
        frames = CounterMetricFamily(
            "bridge_frames", "Carrier audio frames (20 ms)", labels=["direction"]
        )
        frames.add_metric(["from_carrier"], totals.frames_in)
        frames.add_metric(["to_carrier"], totals.frames_out)
        yield frames
        yield CounterMetricFamily(
            "bridge_playout_underflows",
            "Times a carrier ran dry mid-stream",
            value=totals.underflows,
        )
        yield CounterMetricFamily(
            "bridge_playout_dropped_frames",
            "Frames dropped because a playout queue was full",
            value=totals.frames_dropped,
        )
        yield CounterMetricFamily(
            "bridge_kallglot_retries", "Kallglot REST retries", value=self._kallglot_retries()
        )
        yield GaugeMetricFamily(
            "bridge_kallglot_sessions_unconfirmed",
            "Kallglot sessions of calls that are over, owned by this instance, whose end "
            "Kallglot has not confirmed yet (they may still bill); sum over instances",
            value=self._unconfirmed_sessions(),
        )
