"""The Kallglot simulator with a stopwatch: the benchmark's off-by-default timing hook.

Latency at the Kallglot end can only be measured where Kallglot is, so this wraps the simulator
(bridge/sim is not the benchmark's to change): a middleware routes the stream endpoint to a
`StreamConnection` subclass that tells the `Probe` when each audio chunk arrived and when each
translated chunk was sent back. Everything else (REST, tokens, translation, transcripts) is the
simulator's own code, so the bridge does exactly the work it would against the plain simulator.

Fast mode (`translation_delay_s=0`) returns each input chunk at once, so "Kallglot" adds only
its own processing time, which the stamps bracket tightly: arrival is stamped before the JSON is
parsed, departure just before the reply is serialised.
"""

from __future__ import annotations

import inspect
from time import perf_counter_ns
from typing import Any

from aiohttp import web

from bench.loadgen import Probe
from bridge.kallglot import messages as m
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.kallglot_http import Handler, error
from bridge.sim.kallglot_state import SessionRecord
from bridge.sim.kallglot_stream import StreamConnection

STREAM_SUFFIX = "/connect"


class TimedStreamConnection(StreamConnection):
    def __init__(
        self,
        sim: KallglotSimulator,
        record: SessionRecord,
        ws: web.WebSocketResponse,
        request: web.Request,
        probe: Probe,
    ) -> None:
        super().__init__(sim, record, ws, request)
        self._probe = probe
        self._received_ns = 0

    async def _on_text(self, text: str) -> None:
        self._received_ns = perf_counter_ns()
        await super()._on_text(text)

    async def _on_audio(self, msg: dict[str, Any], *, legacy: bool) -> None:
        if (payload := _payload(msg)) is not None:
            self._probe.chunk_in(payload, self._received_ns)
        await super()._on_audio(msg, legacy=legacy)

    async def _send(self, message: dict[str, Any]) -> None:
        if message.get("type") == m.AUDIO_OUTPUT and (payload := _payload(message)) is not None:
            self._probe.chunk_out(payload, perf_counter_ns())
        await super()._send(message)


def _payload(message: dict[str, Any]) -> str | None:
    """The base64 audio of a current-protocol audio message (`audio.payload`)."""
    audio = message.get("audio")
    payload = audio.get("payload") if isinstance(audio, dict) else None
    return payload if isinstance(payload, str) else None


class TimedKallglotSimulator(KallglotSimulator):
    """`KallglotSimulator` in fast mode whose streams report to `probe`."""

    def __init__(self, probe: Probe, **options: Any) -> None:
        options.setdefault("translation_delay_s", 0.0)
        options.setdefault("credits", 1_000_000)
        options.setdefault("rate_limit_per_min", 1_000_000)
        if "keep_audio" in inspect.signature(KallglotSimulator.__init__).parameters:
            options.setdefault("keep_audio", False)  # a benchmark would hoard 16 kB/s per call
        super().__init__(**options)
        self.probe = probe

    def app(self) -> web.Application:
        app = super().app()
        app.middlewares.append(self._timed_streams)
        return app

    @web.middleware
    async def _timed_streams(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method != "GET" or not request.path.endswith(STREAM_SUFFIX):
            return await handler(request)
        return await self._connect(request)

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        """The simulator's stream handshake (session, token), then a timed connection."""
        record = self.sessions.get(request.match_info.get("id", ""))
        if record is None or record.ended:
            return error(404, "invalid_request_error", "session_not_found", "no such session")
        auth = request.headers.get("Authorization", "")
        token = request.query.get("token") or (auth[7:] if auth.startswith("Bearer ") else None)
        problem = self.token_problem(token, record.id)
        if problem is not None:
            return error(401, "authentication_error", problem, "stream token refused")
        ws = web.WebSocketResponse(autoping=False, max_msg_size=2**23)
        await ws.prepare(request)
        return await TimedStreamConnection(self, record, ws, request, self.probe).serve()
