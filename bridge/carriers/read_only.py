"""One read-only GET of a carrier's REST API, for the preflight's credential checks.

Each carrier's `account.py` (and Telnyx's `application.py`) proves its credentials with one such
request: one attempt, no retries (the check reports what it saw; readiness decides about
outages), its own session, so nothing is left open.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from bridge.carriers.interface import CarrierError


async def get(
    url: str,
    headers: Mapping[str, str],
    *,
    carrier: str,
    what: str,
    timeout_s: float,
    params: Mapping[str, str] | None = None,
) -> tuple[int, Any, str]:
    """The answer's status, its body as JSON ({} when it is not JSON) and as text; a
    CarrierError with no status when `carrier` could not be reached (to do `what`)."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http,
            http.get(url, params=params, headers=headers) as response,
        ):
            text = await response.text(errors="replace")
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as error:
        # A timeout's text is empty: no dangling ": " after its name.
        raise CarrierError(
            f"could not reach {carrier} to {what}: {type(error).__name__}: {error}".rstrip(": ")
        ) from None
    try:
        payload: Any = json.loads(text) if text else {}
    except ValueError:
        payload = {}
    return status, payload, text
