"""Compact signed tokens: base64url(payload) "." base64url(HMAC-SHA256(purpose + body)).

Call tickets (tickets.py) and console sign-in keys (console_keys.py) are both such tokens,
signed with BRIDGE_SECRET; each kind signs under its own `purpose`, so a token of one kind can
never pass for the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(payload: bytes, secret: bytes, purpose: bytes = b"") -> str:
    body = _b64(payload)
    return f"{body}.{_b64(_mac(secret, purpose, body))}"


def genuine_body(token: str, secret: bytes, purpose: bytes = b"") -> str | None:
    """The token's body (still base64url: `decode` it) if its signature is genuine, else None."""
    body, _, signature = token.partition(".")
    try:  # compared as text: one token has one spelling (base64 would ignore trailing bits)
        genuine = hmac.compare_digest(
            signature.encode("ascii"), _b64(_mac(secret, purpose, body)).encode()
        )
    except ValueError:
        genuine = False
    return body if genuine else None


def decode(body: str) -> bytes:
    """Raises ValueError (binascii.Error) for text that is not base64url."""
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def _mac(secret: bytes, purpose: bytes, body: str) -> bytes:
    return hmac.new(secret, purpose + body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
