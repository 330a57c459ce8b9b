"""Console sign-in keys: what an agent's console link carries (`POST /v1/agents/{id}/console-links`).

A key names one agent and expires; it is signed with BRIDGE_SECRET under its own purpose, so a
call ticket can never pass for a key nor a key for a ticket. Any instance of a cluster accepts a
key another issued (they share the secret). Format: base64url(JSON) "." base64url(HMAC-SHA256).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

PURPOSE = b"kallglot-bridge console key\n"
DEFAULT_TTL_S = 8 * 3600  # a shift
MAX_TTL_S = 24 * 3600


class KeyRefused(ValueError):
    """The key is missing, forged or expired; the message says which (and what to do)."""


@dataclass(frozen=True, slots=True)
class ConsoleKey:
    agent: str
    expires_at: int  # unix seconds


def issue_key(key: ConsoleKey, secret: bytes) -> str:
    body = _b64(json.dumps({"a": key.agent, "x": key.expires_at}, separators=(",", ":")).encode())
    return f"{body}.{_b64(_mac(secret, body))}"


def verify_key(token: str | None, secret: bytes, now: float) -> ConsoleKey:
    if not token:
        raise KeyRefused("no console key: open the sign-in link your supervisor gave you")
    body, _, signature = token.partition(".")
    try:
        genuine = hmac.compare_digest(signature.encode("ascii"), _b64(_mac(secret, body)).encode())
    except ValueError:
        genuine = False
    if not genuine:
        raise KeyRefused("this console key is not genuine: ask for a new sign-in link")
    try:
        fields = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        key = ConsoleKey(agent=str(fields["a"]), expires_at=int(fields["x"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyRefused(f"malformed console key ({exc!r}): ask for a new sign-in link") from None
    if key.expires_at < now:
        raise KeyRefused("this console sign-in has expired: ask for a new sign-in link")
    return key


def _mac(secret: bytes, body: str) -> bytes:
    return hmac.new(secret, PURPOSE + body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
