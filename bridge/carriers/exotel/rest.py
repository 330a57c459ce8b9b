"""Exotel's call API over REST: the one call the bridge makes, `Calls/connect` (carriers.md §6.2).

Plain aiohttp, form-encoded, Basic auth with the API key and token. Exotel has no REST hang-up
and no call update: a call ends when its flow does (carrier.py). Errors become `CarrierError`
with Exotel's HTTP status and its `RestException` message.

A dial is retried only where it cannot have been placed: when the connection could not be
made, and on 502/503/504 (a gateway answering for an API that did not). Exotel takes no
idempotency key, so a retry after a 500 or a timeout could ring the party twice; those fail
at once, and the call ends as unanswered with the reason logged.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog

from bridge.carriers.exotel.auth import basic_header
from bridge.carriers.exotel.config import ExotelSettings
from bridge.carriers.interface import CarrierError

log = structlog.get_logger(__name__)
USER_AGENT = "kallglot-bridge/0.1"
RETRY_STATUSES = frozenset({502, 503, 504})
ATTEMPTS = 3
BACKOFF_S = (0.2, 0.6)  # before the second and third attempts


def flow_url(settings: ExotelSettings) -> str:
    """The `Url` of a dial: the flow (Voicebot, then Hangup) the answered party is put into."""
    return f"http://my.exotel.com/{settings.account_sid}/exoml/start_voice/{settings.app_id}"


class ExotelRest:
    def __init__(self, settings: ExotelSettings, timeout_s: float = 10.0) -> None:
        self._settings = settings
        sid = quote(settings.account_sid, safe="")
        self._base = f"{settings.api_url.rstrip('/')}/v1/Accounts/{sid}"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._http: aiohttp.ClientSession | None = None  # made on first use: needs a loop

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def connect(self, fields: Mapping[str, str]) -> str:
        """`POST Calls/connect.json` with `fields` (From, CallerId, Url, ...): the new CallSid."""
        what = f"dial {fields.get('From', '')}"
        payload = await self._post("/Calls/connect.json", fields, what)
        call = payload.get("Call") if isinstance(payload, dict) else None
        sid = call.get("Sid") if isinstance(call, dict) else None
        if not isinstance(sid, str) or not sid:
            raise CarrierError("Exotel answered the dial without a Call.Sid")
        log.info("exotel_call_created", call_sid=sid)
        return sid

    async def _post(self, path: str, fields: Mapping[str, str], what: str) -> Any:
        for attempt in range(ATTEMPTS):
            if attempt:
                await asyncio.sleep(BACKOFF_S[attempt - 1])
            try:
                return await self._post_once(path, fields, what)
            except CarrierError as error:
                retry = error.status in RETRY_STATUSES or error.code == "unreachable"
                if not retry or attempt == ATTEMPTS - 1:
                    raise
                log.info("exotel_request_retried", what=what, error=str(error), attempt=attempt)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _post_once(self, path: str, fields: Mapping[str, str], what: str) -> Any:
        settings = self._settings
        headers = {
            "Authorization": basic_header(settings.api_key, settings.api_token),
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._http.post(
                self._base + path, data=dict(fields), headers=headers
            ) as response:
                text = await response.text(errors="replace")
                status = response.status
        except aiohttp.ClientConnectorError as error:  # nothing was sent: safe to retry
            raise CarrierError(
                f"could not reach Exotel to {what}: {type(error).__name__}: {error}",
                code="unreachable",
            ) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise CarrierError(
                f"no answer from Exotel to {what}: {type(error).__name__}: {error}"
            ) from None
        try:
            payload = json.loads(text) if text else {}
        except ValueError:
            payload = {}
        if 200 <= status < 300:
            return payload
        hint = " (check EXOTEL_API_KEY and EXOTEL_API_TOKEN)" if status in (401, 403) else ""
        raise CarrierError(
            f"Exotel refused to {what}: HTTP {status}: {_message(payload)}{hint}", status=status
        )


def _message(payload: Any) -> str:
    """Exotel's error envelope: `{"RestException": {"Status": 400, "Message": "..."}}`."""
    error = payload.get("RestException") if isinstance(payload, dict) else None
    message = error.get("Message") if isinstance(error, dict) else None
    return str(message)[:300] if message else "no error message in the response"
