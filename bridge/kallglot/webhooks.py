"""Kallglot webhook signatures: `Kallglot-Signature: t=<unix>,v1=<hex hmac-sha256>`.

The MAC covers `t + "." + raw body`, so verification must run on the exact bytes received, before
any JSON parsing. Several `v1` values are accepted because a provider rotating its secret signs
with old and new keys for a while. The timestamp window stops replays of captured deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Kallglot-Signature"
DEFAULT_TOLERANCE_S = 300.0
_MAX_HEADER = 4096  # a real header is ~80 characters; anything huge is not worth parsing


def compute(raw: bytes, secret: str, timestamp: int) -> str:
    """The lowercase hex v1 signature of `raw` at `timestamp`."""
    signed = str(timestamp).encode("ascii") + b"." + raw
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def sign(raw: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value Kallglot would send for `raw` (used by the simulator and tests)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute(raw, secret, t)}"


def verify_signature(
    raw: bytes,
    header: str | None,
    secret: str,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True only for a well-formed header, fresh `t`, and a v1 that matches `secret`."""
    if not header or not secret or len(header) > _MAX_HEADER:
        return False
    timestamps: list[str] = []
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            candidates.append(value.lower())
    if len(timestamps) != 1 or not _is_unix_time(timestamps[0]):
        return False
    if not candidates:
        return False
    t = int(timestamps[0])
    current = time.time() if now is None else now
    if abs(current - t) > tolerance_s:
        return False
    expected = compute(raw, secret, t).encode("ascii")
    # Check every candidate (no early exit) so timing does not reveal which one matched. Bytes,
    # because compare_digest refuses non-ASCII str and a header may carry anything.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    return matched


def _is_unix_time(value: str) -> bool:
    return 0 < len(value) <= 12 and value.isascii() and value.isdigit()
