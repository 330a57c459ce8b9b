"""Vonage Voice API over REST: dial, hang up, transfer to a new NCCO (carriers.md §5.3).

Plain aiohttp; every request carries a fresh application JWT (appjwt.py). Failures become
`CarrierError` with Vonage's HTTP status and its error `title`. Retries: a PUT (hang-up,
transfer) is idempotent, so a 5xx, a timeout or a lost connection is tried again, a few times
within a few seconds; a dial is not (Vonage has no idempotency key, and a dial that timed out
may have rung someone), so it is retried only when the connection was never made. A hang-up of
a call that is already over (404) is success: "make sure it is over" is what we mean.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog

from bridge.carriers.interface import CarrierError
from bridge.carriers.vonage.appjwt import application_token
from bridge.carriers.vonage.config import VonageSettings

log = structlog.get_logger(__name__)
USER_AGENT = "kallglot-bridge/0.1"
RETRY_DELAYS_S = (0.2, 0.5, 1.0)  # three retries, under 2 s of waiting in all
ERROR_TEXT_CHARS = 200


class VonageRest:
    def __init__(self, settings: VonageSettings, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._base = settings.api_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None  # made on first use: needs a loop

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def dial(self, body: Mapping[str, Any], to: str) -> str:
        """`POST /v1/calls`; the new call's uuid."""
        data = await self._request("POST", "/v1/calls", body, f"dial {to}", idempotent=False)
        uuid = data.get("uuid") if isinstance(data, dict) else None
        if not isinstance(uuid, str) or not uuid:
            raise CarrierError("Vonage answered the dial without a call uuid")
        log.info("vonage_call_created", call_uuid=uuid)
        return uuid

    async def hang_up(self, call_uuid: str) -> None:
        """Ends the call in any state; one that is already over (404) is success."""
        try:
            await self.modify(call_uuid, {"action": "hangup"}, "hang up")
        except CarrierError as error:
            if error.status != 404:
                raise
            log.debug("vonage_hangup_call_already_ended", call_uuid=call_uuid)

    async def modify(self, call_uuid: str, body: Mapping[str, Any], what: str) -> None:
        """`PUT /v1/calls/{uuid}`: hang up, or transfer to a new NCCO."""
        path = f"/v1/calls/{quote(call_uuid, safe='')}"
        await self._request("PUT", path, body, f"{what} call {call_uuid}", idempotent=True)

    async def _request(
        self, method: str, path: str, body: Mapping[str, Any], what: str, *, idempotent: bool
    ) -> Any:
        for attempt, delay in enumerate((*RETRY_DELAYS_S, None)):
            try:
                return await self._once(method, path, body, what)
            except _Retryable as retry:
                if delay is None or not (idempotent or retry.never_sent):
                    raise retry.error from None
                log.info(
                    "vonage_request_retry", what=what, attempt=attempt + 1, error=str(retry.error)
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _once(self, method: str, path: str, body: Mapping[str, Any], what: str) -> Any:
        token = application_token(
            self._settings.private_key, self._settings.application_id, time.time()
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._http.request(
                method, self._base + path, data=json.dumps(body), headers=headers
            ) as response:
                text = await response.text(errors="replace")
                status = response.status
        except aiohttp.ClientConnectorError as error:
            raise _Retryable(_unreachable(what, error), never_sent=True) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise _Retryable(_unreachable(what, error), never_sent=False) from None
        try:
            payload: Any = json.loads(text) if text else {}
        except ValueError:
            payload = {}
        if 200 <= status < 300:
            return payload
        refused = CarrierError(
            f"Vonage refused to {what}: HTTP {status}: {_detail(payload, text)}{_hint(status)}",
            status=status,
            code=_title(payload),
        )
        if status >= 500:
            raise _Retryable(refused, never_sent=status == 503)
        raise refused


class _Retryable(Exception):
    def __init__(self, error: CarrierError, never_sent: bool) -> None:
        super().__init__(str(error))
        self.error, self.never_sent = error, never_sent


def _unreachable(what: str, error: Exception) -> CarrierError:
    return CarrierError(f"could not reach Vonage to {what}: {type(error).__name__}: {error}")


def _title(payload: Any) -> str | None:
    title = payload.get("title") if isinstance(payload, dict) else None
    return title if isinstance(title, str) else None


def _detail(payload: Any, text: str) -> str:
    """Vonage's error body: `{"type", "title", "detail", "instance"}` (or older shapes)."""
    if isinstance(payload, dict):
        parts = [payload.get(key) for key in ("title", "detail", "error_title")]
        words = ": ".join(part for part in parts if isinstance(part, str) and part)
        if words:
            return words[:ERROR_TEXT_CHARS]
    return text[:ERROR_TEXT_CHARS] or "no error body"


def _hint(status: int) -> str:
    if status in (401, 403):
        return (
            " (check VONAGE_APPLICATION_ID and that VONAGE_PRIVATE_KEY is that application's "
            "private key)"
        )
    return ""
