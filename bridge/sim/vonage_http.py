"""Everything the simulated Vonage sends over HTTP or opens as a WebSocket, signed as Vonage.

One aiohttp session for the whole simulator (created on first use, closed with it). Each
webhook carries `Authorization: Bearer <JWT>` signed HS256 with the account's signature secret,
its `payload_hash` over the exact JSON bytes sent (a GET answer has no body, so no hash); a
media handshake asked for with `"authorization": {"type": "vonage"}` carries the same kind of
token, and `{"type": "custom", "value": ...}` sends that value verbatim (carriers.md §5.1).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp

from bridge.carriers.vonage.signature import VonageSigner
from bridge.sim.carrier_base import MAX_WS_MESSAGE, WS_CLOSE_TIMEOUT_S, LazySession

WEBHOOK_TIMEOUT_S = 10.0
USER_AGENT = "Vonage-Voice/1.0 (simulated)"


class VonageHttp(LazySession):
    def __init__(self, signer: VonageSigner) -> None:
        super().__init__(WEBHOOK_TIMEOUT_S, "the Vonage simulator")
        self.signer = signer

    async def post(self, url: str, payload: Mapping[str, Any]) -> tuple[int | None, str]:
        """(HTTP status, body) of one signed JSON webhook; (None, reason) when not made."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **self.signer.headers(body, time.time()),
        }
        try:
            async with self.session.post(url, data=body, headers=headers) as response:
                return response.status, await response.text()
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"

    async def get(self, url: str, query: Mapping[str, str]) -> tuple[int | None, str]:
        """(HTTP status, body) of a signed GET webhook (an answer URL's default method)."""
        glue = "&" if urlsplit(url).query else "?"
        headers = {"User-Agent": USER_AGENT, **self.signer.headers(None, time.time())}
        try:
            async with self.session.get(url + glue + urlencode(query), headers=headers) as response:
                return response.status, await response.text()
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"

    async def ws_connect(
        self, url: str, authorization: Mapping[str, Any] | None
    ) -> aiohttp.ClientWebSocketResponse:
        headers: dict[str, str] = {}
        kind = authorization.get("type") if authorization else None
        if kind == "vonage":
            headers = self.signer.headers(None, time.time())
        elif kind == "custom" and isinstance(value := (authorization or {}).get("value"), str):
            headers = {"Authorization": value}
        return await self.session.ws_connect(
            url,
            headers=headers,
            timeout=aiohttp.ClientWSTimeout(ws_close=WS_CLOSE_TIMEOUT_S),
            max_msg_size=MAX_WS_MESSAGE,
            autoping=True,
        )
