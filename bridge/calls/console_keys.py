"""Console sign-in keys: what an agent's console link carries (`POST /v1/agents/{id}/console-links`).

A key names one agent and expires; it is signed with BRIDGE_SECRET under its own purpose, so a
call ticket can never pass for a key nor a key for a ticket. Any instance of a cluster accepts a
key another issued (they share the secret). Format: bridge/calls/signing.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bridge.calls.signing import decode, genuine_body, sign

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
    fields = {"a": key.agent, "x": key.expires_at}
    return sign(json.dumps(fields, separators=(",", ":")).encode(), secret, PURPOSE)


def verify_key(token: str | None, secret: bytes, now: float) -> ConsoleKey:
    if not token:
        raise KeyRefused("no console key: open the sign-in link your supervisor gave you")
    body = genuine_body(token, secret, PURPOSE)
    if body is None:
        raise KeyRefused("this console key is not genuine: ask for a new sign-in link")
    try:
        fields = json.loads(decode(body))
        key = ConsoleKey(agent=str(fields["a"]), expires_at=int(fields["x"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise KeyRefused(f"malformed console key ({exc!r}): ask for a new sign-in link") from None
    if key.expires_at < now:
        raise KeyRefused("this console sign-in has expired: ask for a new sign-in link")
    return key
