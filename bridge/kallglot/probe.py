"""One cheap authenticated request that says whether Kallglot is reachable and takes our key.

Kallglot has no "whoami" or account endpoint (kallglot-api.md §2.0), and creating a session
costs a credit, so the probe reads a session that cannot exist: authentication comes before the
lookup, so 401/403 means the key is refused and 404 means it was accepted. No retries and a
short timeout: the preflight check and the readiness watch want an answer about now, and each
decides for itself what to do with a failure (the REST client's retry budget is for calls).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp

from bridge.kallglot.config import KallglotSettings
from bridge.kallglot.errors import error_from_response
from bridge.kallglot.rest import USER_AGENT

# ULID-shaped, so a server that validates id syntax still answers "not found", not "invalid".
PROBE_SESSION_ID = "sess_00000000000000000000000000"
DEFAULT_TIMEOUT_S = 3.0


class Reach(StrEnum):
    ACCEPTED = "accepted"  # Kallglot answered and took the key
    REJECTED = "rejected"  # it answered and refused the key (401) or the account (403)
    FAILING = "failing"  # it answered with a server error: sessions cannot be created now
    UNREACHABLE = "unreachable"  # no answer at all: DNS, refused, reset, timeout


@dataclass(frozen=True, slots=True)
class ProbeResult:
    reach: Reach
    detail: str  # what happened, for a person: never contains the key
    status: int | None = None
    code: str | None = None
    elapsed_s: float = 0.0


def classify(status: int, body: Any, text: str, elapsed_s: float) -> ProbeResult:
    """What an HTTP answer to the probe means (pure, so every status is tested without I/O)."""
    if status < 400 or status == 429 or (400 <= status < 500 and status not in (401, 403)):
        # 404 is the expected answer; 400/422 (id syntax) and 429 (auth passed, then the rate
        # limit) also prove the key was accepted.
        return ProbeResult(Reach.ACCEPTED, f"HTTP {status}", status, None, elapsed_s)
    error = error_from_response(status, body, text=text)
    reach = Reach.FAILING if status >= 500 else Reach.REJECTED
    detail = f"HTTP {status}{f', {error.code}' if error.code else ''}: {error.message}"
    return ProbeResult(reach, detail, status, error.code, elapsed_s)


async def probe(
    http: aiohttp.ClientSession, settings: KallglotSettings, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ProbeResult:
    """One GET with the API key; never raises for anything the network or Kallglot does."""
    url = settings.api_url.rstrip("/") + f"/sessions/{PROBE_SESSION_ID}"
    headers = {"Authorization": f"Bearer {settings.api_key}", "User-Agent": USER_AGENT}
    started = time.monotonic()
    try:
        async with http.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            text = await response.text(errors="replace")
            status = response.status
    except TimeoutError:
        return ProbeResult(Reach.UNREACHABLE, f"no answer within {timeout_s:g} s")
    except aiohttp.ClientError as exc:
        return ProbeResult(Reach.UNREACHABLE, f"{type(exc).__name__}: {exc}".rstrip(": "))
    try:
        body: Any = json.loads(text) if text else None
    except (ValueError, RecursionError):
        body = None
    return classify(status, body, text, time.monotonic() - started)
