"""Plivo's Voice API over REST (carriers.md §6.1): dial, hang up, cancel a dial, transfer.

Plain aiohttp with Basic auth (auth id, auth token). A request that fails for a reason that may
pass (a 5xx, a dropped connection) is tried again a few times with backoff; a dial only when
nothing can have been created (the connection never opened, or Plivo said 503), because Plivo
has no idempotency keys and a second dial would ring the party twice. A hang-up of a call
Plivo no longer knows (404) is success: "make sure it is over" is what we mean.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import structlog

from bridge.carriers.interface import CarrierError
from bridge.carriers.plivo.config import PlivoSettings

log = structlog.get_logger(__name__)
USER_AGENT = "kallglot-bridge/0.1"
BACKOFF_S = (0.2, 0.5, 1.0)  # before the 2nd, 3rd and 4th attempt


class PlivoRest:
    def __init__(
        self,
        settings: PlivoSettings,
        timeout_s: float = 10.0,
        backoff_s: tuple[float, ...] = BACKOFF_S,
    ) -> None:
        self._settings = settings
        self._base = f"{settings.api_url.rstrip('/')}/Account/{quote(settings.auth_id, safe='')}"
        credentials = f"{settings.auth_id}:{settings.auth_token}".encode()
        self._auth = "Basic " + base64.b64encode(credentials).decode("ascii")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._backoff_s = backoff_s
        self._http: aiohttp.ClientSession | None = None  # made on first use: needs a loop

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def dial(self, fields: Mapping[str, Any]) -> str:
        """Places a call (`POST Call/`); Plivo's `request_uuid` for it."""
        to = fields.get("to")
        _, data = await self._request(
            "POST", "/Call/", dict(fields), f"dial {to}", retry_sent=False
        )
        request_uuid = data.get("request_uuid") if isinstance(data, dict) else None
        if isinstance(request_uuid, list):  # one dial to several numbers answers with a list
            request_uuid = request_uuid[0] if request_uuid else None
        if not isinstance(request_uuid, str) or not request_uuid:
            raise CarrierError("Plivo answered the dial without a request_uuid")
        log.info("plivo_call_created", request_uuid=request_uuid)
        return request_uuid

    async def hang_up_call(self, call_uuid: str) -> bool:
        """Ends a live call; False if Plivo knows no such live call (over, or never was)."""
        return await self._delete(
            f"/Call/{quote(call_uuid, safe='')}/", f"hang up call {call_uuid}"
        )

    async def cancel_request(self, request_uuid: str) -> bool:
        """Cancels a dial still ringing; False if Plivo knows no such pending request."""
        path = f"/Request/{quote(request_uuid, safe='')}/"
        return await self._delete(path, f"cancel dial {request_uuid}")

    async def transfer(self, call_uuid: str, url: str) -> None:
        """The call's A leg fetches `url` (POST) and runs that XML instead of the current."""
        fields = {"legs": "aleg", "aleg_url": url, "aleg_method": "POST"}
        await self._request(
            "POST", f"/Call/{quote(call_uuid, safe='')}/", fields, f"transfer call {call_uuid}"
        )

    async def _delete(self, path: str, what: str) -> bool:
        try:
            await self._request("DELETE", path, None, what)
        except CarrierError as error:
            if error.status != 404:
                raise
            log.debug("plivo_not_found", what=what)
            return False
        return True

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        what: str,
        retry_sent: bool = True,
    ) -> tuple[int, Any]:
        attempts = len(self._backoff_s) + 1
        for attempt in range(attempts):
            try:
                return await self._once(method, path, body, what)
            except CarrierError as error:
                sent = not isinstance(error.__cause__, aiohttp.ClientConnectorError)
                transient = error.status is None or error.status >= 500
                if error.status == 503:
                    sent = False  # Plivo says it took nothing on
                if attempt + 1 == attempts or not transient or (sent and not retry_sent):
                    raise
                log.info("plivo_retry", what=what, attempt=attempt + 1, error=str(error))
                await asyncio.sleep(self._backoff_s[attempt])
        raise AssertionError("unreachable")

    async def _once(
        self, method: str, path: str, body: dict[str, Any] | None, what: str
    ) -> tuple[int, Any]:
        headers = {"Authorization": self._auth, "User-Agent": USER_AGENT}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._http.request(
                method,
                self._base + path,
                data=json.dumps(body) if body is not None else None,
                headers=headers,
            ) as response:
                text = await response.text(errors="replace")
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as error:
            raise CarrierError(
                f"could not reach Plivo to {what}: {type(error).__name__}: {error}"
            ) from error
        try:
            payload = json.loads(text) if text else {}
        except ValueError:
            payload = {}
        if 200 <= status < 300:
            return status, payload
        detail = payload.get("error") if isinstance(payload, dict) else None
        message = f"Plivo refused to {what}: HTTP {status}: {detail or 'no error message'}"
        if status == 401:
            message += ". Check PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN (Plivo console, overview page)."
        raise CarrierError(message, status=status)
