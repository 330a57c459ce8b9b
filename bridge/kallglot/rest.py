"""The Kallglot REST client: bearer auth, idempotency keys that survive retries, bounded backoff.

One `aiohttp.ClientSession` per application is passed in (connection pooling across calls); this
class owns no sockets. A logical POST gets exactly one Idempotency-Key, chosen before the first
attempt and reused by every retry, so a 502 after Kallglot already created the session replays the
original session instead of billing a second one. Callers can pass their own key (the bridge derives
it from its call id) so that even a retry from a different process is deduplicated.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import structlog

from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.errors import (
    KallglotConnectionError,
    KallglotError,
    UnexpectedResponseError,
    error_from_response,
)
from bridge.kallglot.models import Mode, Session, SessionTranscript
from bridge.kallglot.retry import Backoff, server_hint, should_retry
from bridge.settings import ConfigError

log = structlog.get_logger("bridge.kallglot.rest")

USER_AGENT = "kallglot-bridge/0.1"
# Failures before a connection existed: the request never left this process.
NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)
Sleep = Callable[[float], Awaitable[None]]


class KallglotClient:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        settings: KallglotSettings,
        *,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not settings.api_key:
            raise ConfigError("KALLGLOT_API_KEY is not set; the Kallglot client needs an API key")
        self.settings = settings
        self._http = http
        self._base = settings.api_url.rstrip("/")
        self._auth = f"Bearer {settings.api_key}"
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._backoff = Backoff(settings.retry_base_delay_s, settings.retry_max_delay_s)
        self._timeout = aiohttp.ClientTimeout(total=settings.http_timeout_s)
        self.retries = 0  # every retry of every request, for metrics
        # Last values seen, for metrics; informational only.
        self.credits_remaining: str | None = None
        self.rate_limit_remaining: str | None = None

    async def create_session(
        self,
        mode: Mode | str,
        source_language: str | None = None,
        target_language: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        routing: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Session:
        """Creates a session (costs one credit). Omitted languages mean auto-detect.

        `routing=None` leaves telephony out entirely, which is a pure WebSocket session: what the
        bridge wants. Never put a `provider` object in `extra` (the NEW API rejects it).
        """
        body = session_body(mode, source_language, target_language, metadata, routing, extra)
        return await self.create_session_from_body(body, idempotency_key=idempotency_key)

    async def create_session_from_body(
        self, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> Session:
        """Creates a session from a ready body; with the key and body of an earlier create,
        Kallglot answers with that create's response (how a lost outcome is learnt)."""
        data = await self._request("POST", "/sessions", body=body, idempotency_key=idempotency_key)
        return Session.from_json(data)

    async def get_session(self, session_id: str) -> Session:
        """The session; while active, its `stream` carries a currently valid token."""
        return Session.from_json(await self._request("GET", f"/sessions/{session_id}"))

    async def end_session(
        self, session_id: str, *, idempotency_key: str | None = None, reason: str | None = None
    ) -> Session:
        """Ends the session (billing stops). Harmless on an already ended session."""
        body = {"reason": reason} if reason else {}
        data = await self._request(
            "POST", f"/sessions/{session_id}/end", body=body, idempotency_key=idempotency_key
        )
        return Session.from_json(data)

    async def get_transcript(self, session_id: str) -> SessionTranscript:
        data = await self._request("GET", f"/sessions/{session_id}/transcript")
        return SessionTranscript.from_json(data)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Any:
        """One logical request: attempts until success, a final error, or the time budget ends."""
        headers = {"Authorization": self._auth, "User-Agent": USER_AGENT}
        payload: bytes | None = None
        if method == "POST":
            payload = json.dumps(body or {}, separators=(",", ":")).encode()
            headers["Content-Type"] = "application/json"
            headers["Idempotency-Key"] = idempotency_key or f"kb_{uuid.uuid4().hex}"
        url = self._base + path
        bound = log.bind(method=method, path=path)
        started = time.monotonic()
        attempt = 0
        maybe_applied = False
        while True:
            attempt += 1
            try:
                return await self._attempt(method, url, headers, payload)
            except KallglotError as exc:
                maybe_applied = maybe_applied or _maybe_applied(exc)
                exc.maybe_applied = maybe_applied
                if not _retryable(exc):
                    raise
                error = exc
            elapsed = time.monotonic() - started
            delay = self._backoff.delay(attempt, error.retry_after, self._rng)
            if (
                attempt >= self.settings.retry_max_attempts
                or elapsed + delay > self.settings.retry_total_s
            ):
                bound.warning(
                    "kallglot_request_gave_up",
                    attempts=attempt,
                    elapsed_s=round(elapsed, 3),
                    status=error.status,
                    code=error.code,
                    request_id=error.request_id,
                )
                if isinstance(error, KallglotConnectionError):
                    gave_up = KallglotConnectionError(
                        f"gave up after {attempt} attempts in {elapsed:.1f} s; last: {error.message}"
                    )
                    gave_up.maybe_applied = maybe_applied
                    raise gave_up from error
                raise error
            self.retries += 1
            bound.info(
                "kallglot_request_retry",
                attempt=attempt,
                delay_s=round(delay, 3),
                status=error.status,
                code=error.code,
                request_id=error.request_id,
            )
            await self._sleep(delay)

    async def _attempt(
        self, method: str, url: str, headers: Mapping[str, str], payload: bytes | None
    ) -> Any:
        try:
            async with self._http.request(
                method, url, data=payload, headers=headers, timeout=self._timeout
            ) as response:
                text = await response.text(errors="replace")
                status, resp_headers = response.status, response.headers
        except (aiohttp.ClientError, TimeoutError) as exc:
            # ClientResponseError cannot happen (no raise_for_status); everything here is
            # "did not get an answer", including timeouts, resets and DNS failures.
            error = KallglotConnectionError(
                f"{method} {url} failed: {type(exc).__name__}: {exc}".rstrip(": ")
            )
            error.request_sent = not isinstance(exc, NOT_SENT)
            raise error from exc
        self.credits_remaining = resp_headers.get("X-API-Credits-Remaining")
        self.rate_limit_remaining = resp_headers.get("X-RateLimit-Remaining")
        try:
            data: Any = json.loads(text) if text else None
        except (ValueError, RecursionError):  # not JSON, or nested past what json can parse
            data = None
        if 200 <= status < 300:
            if data is None:
                raise UnexpectedResponseError(
                    f"HTTP {status} without a JSON body",
                    status=status,
                    request_id=resp_headers.get("X-Request-ID"),
                )
            return data
        hint = server_hint(status, resp_headers, time.time())
        raise error_from_response(status, data, headers=resp_headers, text=text, retry_after=hint)


def session_body(
    mode: Mode | str,
    source_language: str | None = None,
    target_language: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    routing: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON body of `POST /v1/sessions` (see `KallglotClient.create_session`)."""
    body: dict[str, Any] = {"mode": str(mode)}
    if source_language is not None:
        body["source_language"] = source_language
    if target_language is not None:
        body["target_language"] = target_language
    if metadata is not None:
        body["metadata"] = dict(metadata)
    if routing is not None:
        body["routing"] = dict(routing)
    body.update(extra or {})
    return body


def _maybe_applied(exc: KallglotError) -> bool:
    """Whether Kallglot may have acted on the attempt that failed with `exc`."""
    if isinstance(exc, KallglotConnectionError):
        return exc.request_sent
    return exc.status is not None and (exc.status >= 500 or exc.status == 409)


def _retryable(exc: KallglotError) -> bool:
    if isinstance(exc, KallglotConnectionError):
        return True
    return exc.status is not None and should_retry(exc.status, exc.code)
