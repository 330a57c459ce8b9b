"""Opening one stream socket: URL with token, handshake, and (NEW protocol) `session.ready`.

Failures are sorted into what the caller can act on: `HandshakeRefused` carries the HTTP status
(401/403: get a fresh token; 404/409/410: the session is gone), `SessionGone` means the server said
the session ended, anything else is a transient `StreamError` worth another attempt.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, InvalidURI, WebSocketException

from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.errors import KallglotError, StreamError, error_from_response
from bridge.kallglot.events import Ended, Pong, Ready, ServerEvent, SessionError
from bridge.kallglot.protocol import StreamProtocol

USER_AGENT = "kallglot-bridge/0.1"
GONE_STATUSES = frozenset({404, 409, 410})
TOKEN_STATUSES = frozenset({401, 403})


class HandshakeRefused(StreamError):
    summary = "Kallglot refused the stream handshake"


class SessionGone(StreamError):
    summary = "The Kallglot session has ended"
    hint = "Create a new session to continue."


def with_token(url: str, token: str) -> str:
    """`url` with `?token=`, unless the URL already carries one (then it is used as given)."""
    parts = urlsplit(url)
    if any(key == "token" for key, _ in parse_qsl(parts.query, keep_blank_values=True)):
        return url
    separator = "&" if parts.query else "?"
    return f"{url}{separator}token={quote(token, safe='')}"


def redact(url: str) -> str:
    """The URL without its query string (which holds the token) for log lines."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


async def open_socket(
    url: str,
    token: str,
    settings: KallglotSettings,
    protocol: StreamProtocol,
    early: Callable[[ServerEvent], None],
) -> ClientConnection:
    """An open socket, ready for audio. Events that arrive before `session.ready` go to `early`.
    `token` is only used to scrub it from error messages, which end up in logs."""
    try:
        ws = await connect(
            url,
            open_timeout=settings.connect_timeout_s,
            ping_interval=None,  # our own keep-alive: `ping` messages with a stall check
            close_timeout=1.0,
            compression=None,  # base64 audio does not compress; deflate would only cost CPU
            max_size=2**23,
            user_agent_header=USER_AGENT,
        )
    except InvalidStatus as exc:
        raise _refused(exc) from None
    except InvalidURI:
        raise SessionGone(f"stream URL {redact(url)!r} is not a usable WebSocket URL") from None
    except (OSError, TimeoutError, WebSocketException) as exc:
        detail = str(exc).replace(token, "<token>") if token else str(exc)
        raise StreamError(f"could not open the stream: {type(exc).__name__}: {detail}") from None
    if protocol.ready_on_open:
        return ws
    try:
        await _await_ready(ws, protocol, early)
    except BaseException:
        ws.transport.abort()
        raise
    return ws


async def _await_ready(
    ws: ClientConnection, protocol: StreamProtocol, early: Callable[[ServerEvent], None]
) -> None:
    """Reads until `session.ready` (the caller bounds the time)."""
    while True:
        try:
            raw = await ws.recv()
        except WebSocketException as exc:
            raise StreamError(f"stream closed before session.ready ({exc})") from None
        event = protocol.parse(raw)
        if isinstance(event, Ready):
            return
        if isinstance(event, Ended):
            raise SessionGone(f"server ended the session on connect ({event.reason})")
        if isinstance(event, SessionError):
            raise StreamError(
                f"server sent session.error before ready: {event.message or ''}".rstrip(": "),
                code=event.code,
            )
        if not isinstance(event, Pong):
            early(event)


def _refused(exc: InvalidStatus) -> KallglotError:
    status = exc.response.status_code
    body: Any = None
    with contextlib.suppress(ValueError):
        body = json.loads(exc.response.body or b"")
    detail = error_from_response(status, body, headers=dict(exc.response.headers))
    cls = SessionGone if status in GONE_STATUSES else HandshakeRefused
    return cls(
        detail.message,
        status=status,
        type=detail.type,
        code=detail.code,
        request_id=detail.request_id,
    )
