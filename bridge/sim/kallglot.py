"""A Kallglot stand-in that tests, benchmarks and demos run against, over real sockets.

It speaks the NEW contract (and what is harmless of OLD), answers with the NEW error envelope and
headers, bills credits, honours Idempotency-Key, mints five-minute stream tokens against a clock
tests can move, "translates" by returning each speaker's own samples to the other party, and
fails on demand through `faults`. Everything it saw is kept in `sessions` for tests to inspect.

    sim = KallglotSimulator(api_key="sk_test_sim")
    server = await aiohttp_server(sim.app())
    settings = KallglotSettings(api_url=str(server.make_url("/v1")), api_key=sim.api_key)
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from bridge.audio import PCM16_16K
from bridge.sim import kallglot_debug, kallglot_rest, kallglot_stream
from bridge.sim.kallglot_http import middleware
from bridge.sim.kallglot_state import (
    Faults,
    IdempotencyEntry,
    Pulse,
    SessionRecord,
    iso,
    new_id,
)
from bridge.sim.kallglot_stream import StreamConnection
from bridge.sim.kallglot_translate import SHAPES, OutputShape, Segmentation, check_chunk_bytes
from bridge.sim.kallglot_webhooks import WebhookSender
from bridge.tasks import cancel_and_wait

SIM_KEY: web.AppKey[KallglotSimulator] = web.AppKey("kallglot_simulator")
T = TypeVar("T")


class KallglotSimulator:
    def __init__(
        self,
        api_key: str = "sk_test_sim",
        *,
        credits: int = 1000,
        translation_delay_s: float = 0.3,
        output_shape: OutputShape | str = "auto",
        token_ttl_s: float = 300.0,
        now: Callable[[], float] = time.time,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_retry_delays: tuple[float, ...] = (0.5, 2.0, 5.0),
        rate_limit_per_min: int = 6000,
        conflict_retry_after_s: float = 0.2,
        segmentation: Segmentation | None = None,
        faults: Faults | None = None,
        keep_audio: bool = True,
        talkspurts: bool = False,
        output_chunk_bytes: int | None = None,
    ) -> None:
        """`talkspurts`: translated audio only during utterances, nothing between them;
        `output_chunk_bytes`: translated audio in messages of exactly that many bytes (an
        utterance's last one shorter). Both apply to connections opened after a change; see
        kallglot_translate.py."""
        if isinstance(output_shape, str) and output_shape not in (*SHAPES, "auto"):
            raise ValueError(f"output_shape must be one of {[*SHAPES, 'auto']}")
        # Either protocol may connect, and the legacy one sends 16-bit PCM: whole samples only.
        check_chunk_bytes(output_chunk_bytes, PCM16_16K)
        self.api_key = api_key
        self.credits_remaining = credits
        self.credits_used = 0
        self.translation_delay_s = translation_delay_s
        self.output_shape = output_shape
        self.token_ttl_s = token_ttl_s
        self.rate_limit_per_min = rate_limit_per_min
        self.conflict_retry_after_s = conflict_retry_after_s
        self.segmentation = segmentation or Segmentation()
        self.keep_audio = keep_audio  # raw audio per session, for tests (see SessionRecord)
        self.talkspurts = talkspurts
        self.output_chunk_bytes = output_chunk_bytes
        self.faults = faults or Faults()
        self.sessions: dict[str, SessionRecord] = {}
        self.create_requests = 0
        self.request_log: list[tuple[float, str, str]] = []  # (monotonic time, method, path)
        self.create_requests_by_key: Counter[str] = Counter()
        self.credits_by_key: Counter[str] = Counter()
        self.idempotency: dict[str, IdempotencyEntry] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (session id, expires at)
        self._current_token: dict[str, str] = {}  # session id -> newest token
        self.changed = Pulse()
        self.webhooks = WebhookSender(webhook_url, webhook_secret, webhook_retry_delays, self.now)
        self.live: dict[str, StreamConnection] = {}
        self._clock = now
        self._clock_offset = 0.0
        self._window: tuple[int, int] = (0, 0)  # (minute, requests in it)
        self._background: set[asyncio.Task[Any]] = set()
        self._calls_seen: set[str] = set()  # call ids named by creates so far (faults.on_new_call)

    # -- clock ----------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Moves the simulator's clock (token expiry, timestamps) without anyone sleeping."""
        self._clock_offset += seconds

    # -- application ----------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[middleware(self)])
        app[SIM_KEY] = self
        kallglot_rest.add_routes(app, self)
        kallglot_stream.add_routes(app, self)
        kallglot_debug.add_routes(app, self)
        app.on_shutdown.append(self._close_streams)
        app.cleanup_ctx.append(self._lifetime)
        return app

    async def _close_streams(self, app: web.Application) -> None:
        """Shutdown: open sockets would hold the server up. By now aiohttp has stopped reading
        them, so a close handshake cannot complete: cut them."""
        for connection in list(self.live.values()):
            await connection.abort()

    async def _lifetime(self, app: web.Application) -> AsyncIterator[None]:
        await self.webhooks.start()
        yield
        await cancel_and_wait(self._background)
        await self.webhooks.close()

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Runs `work` to completion even if the request that started it is cancelled; the
        app's cleanup cancels whatever is still running."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    # -- sessions -------------------------------------------------------------------------

    def create(self, body: dict[str, Any], key: str | None, stream_base: str) -> SessionRecord:
        record = SessionRecord(
            id=new_id("sess_"),
            mode=body["mode"],
            source_language=body.get("source_language"),
            target_language=body.get("target_language"),
            metadata=dict(body.get("metadata") or {}),
            created_at=self.now(),
            idempotency_key=key,
            stream_base=stream_base,
            keep_audio=self.keep_audio,
        )
        self.sessions[record.id] = record
        self.credits_remaining -= 1
        self.credits_used += 1
        self.credits_by_key[key or record.id] += 1
        self.mint_token(record)
        self.webhooks.send("session.created", self.session_json(record))
        self.changed.fire()
        return record

    def mint_token(self, record: SessionRecord) -> str:
        token = "kst_test_" + secrets.token_hex(16)
        self.tokens[token] = (record.id, self.now() + self.token_ttl_s)
        self._current_token[record.id] = token
        return token

    def current_token(self, record: SessionRecord) -> tuple[str, float]:
        """The session's token, minted afresh when the last one expired (GET hands it out)."""
        token = self._current_token[record.id]
        if self.tokens[token][1] <= self.now():
            token = self.mint_token(record)
        return token, self.tokens[token][1]

    def token_problem(self, token: str | None, session_id: str) -> str | None:
        """None when `token` may open `session_id`'s stream, else the error code."""
        entry = self.tokens.get(token or "")
        if entry is None or entry[0] != session_id:
            return "invalid_token"
        if entry[1] <= self.now():
            return "expired_token"
        return None

    def session_json(self, record: SessionRecord) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": record.id,
            "object": "session",
            "status": record.status,
            "mode": record.mode,
            "source_language": record.source_language,
            "target_language": record.target_language,
            "provider": None,
            "phone_number": None,
            "recording": {"enabled": False},
            "metadata": record.metadata,
            "created_at": iso(record.created_at),
            "started_at": iso(record.started_at) if record.started_at else None,
            "ended_at": iso(record.ended_at) if record.ended_at else None,
        }
        if record.ended:
            data["end_reason"] = record.end_reason
            data["duration_seconds"] = self.duration(record)
        else:
            token, expires = self.current_token(record)
            data["stream"] = {
                "url": f"{record.stream_base}/v1/sessions/{record.id}/connect",
                "token": token,
                "expires_at": iso(expires),
            }
        return data

    def duration(self, record: SessionRecord) -> float:
        if record.started_at is None:
            return 0.0
        return round((record.ended_at or self.now()) - record.started_at, 3)

    async def end(self, record: SessionRecord, reason: str) -> None:
        """Ends the session once; later calls change nothing (the NEW end is idempotent)."""
        if record.ended:
            return
        record.status = "ended"
        record.ended_at = self.now()
        record.end_reason = reason
        record.ended_transitions += 1
        record.changed.fire()
        self.changed.fire()
        connection = self.live.get(record.id)
        if connection is not None:
            await connection.server_end(reason)
        self.webhooks.send("session.ended", self.session_json(record))
        self.webhooks.send("transcript.ready", self.transcript_json(record))

    def transcript_json(self, record: SessionRecord) -> dict[str, Any]:
        languages = sorted({t["language"] for t in record.turns})
        return {
            "id": f"trn_{record.id}",
            "object": "transcript",
            "session_id": record.id,
            "status": "completed" if record.ended else "in_progress",
            "turns": record.turns,
            "metadata": {
                "total_turns": len(record.turns),
                "duration_seconds": self.duration(record),
                "languages_detected": languages,
            },
        }

    # -- rate limit -----------------------------------------------------------------------

    def take_rate_limit(self) -> tuple[bool, dict[str, str]]:
        """Counts one request against the per-minute window; (allowed, X-RateLimit-* headers)."""
        minute = int(self.now() // 60)
        count = self._window[1] + 1 if self._window[0] == minute else 1
        self._window = (minute, count)
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit_per_min),
            "X-RateLimit-Remaining": str(max(0, self.rate_limit_per_min - count)),
            "X-RateLimit-Reset": str((minute + 1) * 60),
        }
        return count <= self.rate_limit_per_min, headers

    # -- test helpers ---------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[KallglotSimulator], bool]) -> None:
        """Returns once `predicate(sim)` holds; callers bound it with `asyncio.timeout`."""
        await self.changed.wait_for(lambda: predicate(self))

    async def wait_for_session(self) -> SessionRecord:
        """The first session created (waits until there is one)."""
        await self.wait_for(lambda sim: bool(sim.sessions))
        return next(iter(self.sessions.values()))

    async def drop_stream(self, session_id: str, code: int | None = None) -> None:
        """Closes the session's live stream as a server restart would; returns once closed."""
        connection = self.live.get(session_id)
        if connection is not None:
            await connection.drop(code or self.faults.drop_code)

    async def cut_off(self, call_id: str) -> None:
        """Kallglot becomes unreachable for one call: its open streams are cut (no close
        frame) and its requests and connections are cut without an answer until `restore`."""
        self.faults.cut_off.add(call_id)
        for connection in list(self.live.values()):
            if connection.record.metadata.get("call_id") == call_id:
                await connection.abort()

    def restore(self, call_id: str) -> None:
        self.faults.cut_off.discard(call_id)

    async def unreachable_for(self, request: web.Request) -> bool:
        """Whether `request` (REST or stream) belongs to a call that is cut off."""
        faults = self.faults
        if not faults.cut_off and faults.on_new_call is None:
            return False
        call_id: Any = None
        session_id = request.match_info.get("id")
        if session_id is not None and session_id in self.sessions:
            call_id = self.sessions[session_id].metadata.get("call_id")
        elif request.method == "POST" and request.path == "/v1/sessions":
            with contextlib.suppress(ValueError, AttributeError):
                call_id = (await request.json()).get("metadata", {}).get("call_id")
            if isinstance(call_id, str) and call_id not in self._calls_seen:
                self._calls_seen.add(call_id)
                if faults.on_new_call is not None:
                    faults.on_new_call(call_id)
        return call_id in faults.cut_off

    def stall_stream(self, session_id: str, stalled: bool = True) -> None:
        """Stalls the session's current connection (a reconnect gets a healthy one)."""
        connection = self.live.get(session_id)
        if connection is not None:
            connection.stall = stalled
