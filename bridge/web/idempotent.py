"""`Idempotency-Key` on `POST /v1/calls`: the HTTP side of bridge/calls/idempotency.py.

A request with a key runs once; its answer is kept and sent again, byte for byte with the
header `Idempotent-Replayed: true`, to any retry with the same key and body for 24 h. A request
refused before it acted (a bad token or body, no capacity: raised as an HTTP error) leaves the
key free, so the corrected or later request with it is served afresh.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from aiohttp import web

from bridge.calls.idempotency import Answer, Claim, fingerprint
from bridge.web.api_errors import fail
from bridge.web.keys import OUTBOUND

log = structlog.get_logger(__name__)
HEADER = "Idempotency-Key"
KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII: what fits any header and log safely
REPLAYED_HEADER = "Idempotent-Replayed"
EVICTION_LOG_EVERY = 1000


def idempotency_key(request: web.Request) -> str | None:
    """The request's key, None without one; 400 for one that cannot be a key."""
    key = request.headers.get(HEADER)
    if key is not None and not KEY.fullmatch(key):
        fail(
            400,
            "invalid_idempotency_key",
            f"the {HEADER} header must be 1 to 255 visible ASCII characters "
            "(a random UUID is a good key)",
        )
    return key


async def once(
    request: web.Request,
    key: str | None,
    body: Mapping[str, Any],
    act: Callable[[], Awaitable[web.Response]],
) -> web.Response:
    """`act()`'s answer, or the answer the first request with `key` and `body` got."""
    if key is None:
        return await act()
    keys = request.app[OUTBOUND].requests
    evicted = keys.evicted
    claimed = keys.claim(key, fingerprint(body))
    if claimed.claim is Claim.MISMATCH:
        fail(
            422,
            "idempotency_key_reused",
            f"{HEADER} {key!r} was used for a different request body in the last 24 h; "
            "send the same body to get that request's answer again, or a new key for a new call",
        )
    if claimed.claim is Claim.IN_PROGRESS:
        fail(
            409,
            "idempotency_key_in_use",
            f"the first request with {HEADER} {key!r} is still being answered; "
            "retry in a moment to get its answer",
        )
    if claimed.answer is not None:
        log.info("idempotent_request_replayed", path=request.path, status=claimed.answer.status)
        return web.Response(
            status=claimed.answer.status,
            body=claimed.answer.body,
            content_type="application/json",
            headers={REPLAYED_HEADER: "true"},
        )
    if keys.evicted > evicted and keys.evicted % EVICTION_LOG_EVERY == 1:
        log.warning(
            "idempotency_keys_evicted",
            evicted=keys.evicted,
            kept=len(keys),
            hint="more requests with an Idempotency-Key than this instance keeps for 24 h: "
            "a retry of one of the oldest would be served afresh",
        )
    try:
        response = await act()
    except BaseException:
        keys.release(key)  # refused before acting (or cancelled): nothing to replay
        raise
    if not isinstance(response.body, bytes):  # json_response's always is
        raise TypeError("an idempotent handler must answer with a body of bytes")
    keys.settle(key, Answer(response.status, response.body))
    return response
