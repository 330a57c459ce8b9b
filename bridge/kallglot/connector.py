"""Getting a ready socket for a session, within a time and attempt budget.

Stream tokens live five minutes and are checked only at the handshake, so a reconnect late in a
call needs a new one. No refresh endpoint is documented; `GET /v1/sessions/{id}` returns the
session's current `stream` object, and that is what we use, either when our copy of the token has
expired or when the handshake is refused with 401/403 (clock skew makes our own expiry check a hint,
never the truth).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from structlog.typing import FilteringBoundLogger
from websockets.asyncio.client import ClientConnection

from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.connection import (
    TOKEN_STATUSES,
    HandshakeRefused,
    SessionGone,
    open_socket,
    redact,
    with_token,
)
from bridge.kallglot.errors import (
    AuthenticationError,
    KallglotError,
    NotFoundError,
    PermissionDeniedError,
    StreamError,
)
from bridge.kallglot.events import ServerEvent
from bridge.kallglot.models import Session
from bridge.kallglot.protocol import StreamProtocol
from bridge.kallglot.rest import KallglotClient

TOKEN_MARGIN_S = 5.0  # a token this close to expiry counts as expired: the handshake takes time
INITIAL_ATTEMPTS = 3  # the first connect: one try, and a retry with a fresh token if refused


class Connector:
    def __init__(
        self,
        client: KallglotClient,
        session: Session,
        settings: KallglotSettings,
        protocol: StreamProtocol,
        early: Callable[[ServerEvent], None],
        rng: random.Random,
        log: FilteringBoundLogger,
    ) -> None:
        self.session = session
        self.connections = 0
        self._client = client
        self._settings = settings
        self._protocol = protocol
        self._early = early
        self._rng = rng
        self._log = log

    async def establish(self, *, initial: bool) -> tuple[ClientConnection, int]:
        """A ready socket and the attempts it took. Raises the last error when the budget runs
        out, or `SessionGone` at once when retrying is pointless (session ended, key revoked)."""
        s = self._settings
        deadline = time.monotonic() + (s.connect_timeout_s if initial else s.reconnect_total_s)
        attempts = INITIAL_ATTEMPTS if initial else s.reconnect_max_attempts
        stream = self.session.stream
        refresh = stream is None or stream.expired(datetime.now(UTC), TOKEN_MARGIN_S)
        delay = 0.0 if initial else self._rng.uniform(0, s.reconnect_first_delay_s)
        last: KallglotError = StreamError("no reconnect attempt allowed (reconnect budget is 0)")
        for attempt in range(1, attempts + 1):
            if time.monotonic() + delay >= deadline:
                break
            await asyncio.sleep(delay)
            delay = min(s.reconnect_max_delay_s, max(s.reconnect_first_delay_s, delay * 2))
            delay = self._rng.uniform(delay / 2, delay)
            try:
                budget = min(deadline - time.monotonic(), s.connect_timeout_s)
                async with asyncio.timeout(max(0.0, budget)):
                    if refresh:
                        await self._refresh()
                        refresh = False
                    return await self._open(), attempt
            except HandshakeRefused as exc:
                refresh = refresh or exc.status in TOKEN_STATUSES
                last = exc
            except (NotFoundError, AuthenticationError, PermissionDeniedError) as exc:
                # From the REST refresh: the session or our API key is gone; no retry can help.
                raise SessionGone(exc.message, status=exc.status, code=exc.code) from exc
            except SessionGone:
                raise
            except KallglotError as exc:
                last = exc
            except TimeoutError:
                timed_out = StreamError("stream connection attempt timed out")
                self._log.info(
                    "kallglot_stream_attempt_failed", attempt=attempt, error=str(timed_out)
                )
                # An attempt the budget cut short says less than a refusal before it.
                if not isinstance(last, HandshakeRefused):
                    last = timed_out
                continue
            self._log.info("kallglot_stream_attempt_failed", attempt=attempt, error=str(last))
        raise last

    async def _refresh(self) -> None:
        session = await self._client.get_session(self.session.id)
        if session.ended or session.stream is None:
            raise SessionGone(f"session is {session.status}", code="session_ended")
        self.session = session

    async def _open(self) -> ClientConnection:
        stream = self.session.stream
        if stream is None:
            raise SessionGone("session has no stream")
        self._log.debug("kallglot_stream_opening", url=redact(stream.url))
        url = with_token(stream.url, stream.token)
        ws = await open_socket(url, stream.token, self._settings, self._protocol, self._early)
        self.connections += 1
        return ws
