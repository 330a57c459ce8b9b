"""Everything the simulated Telnyx sends over HTTP or opens as a WebSocket.

One aiohttp session for the whole simulator (created on first use, closed with it). A webhook
is POSTed as the exact JSON bytes that were signed, with Telnyx's Ed25519 headers over
`"<timestamp>|" + body` (carriers.md §4.4); a media socket carries the stream's auth token as
the `x-telnyx-streaming-auth-token` header when the command gave one.
"""

from __future__ import annotations

import time

import aiohttp

from bridge.carriers.telnyx.signature import STREAM_TOKEN_HEADER, TelnyxSigner
from bridge.sim.carrier_base import MAX_WS_MESSAGE, WS_CLOSE_TIMEOUT_S, LazySession

WEBHOOK_TIMEOUT_S = 10.0
USER_AGENT = "telnyx-webhooks"


class TelnyxHttp(LazySession):
    def __init__(self, signer: TelnyxSigner) -> None:
        super().__init__(WEBHOOK_TIMEOUT_S, "the Telnyx simulator")
        self.signer = signer

    async def post_signed(self, url: str, body: bytes) -> tuple[int | None, str]:
        """(HTTP status, body) of one signed webhook; (None, reason) when it was not made."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            **self.signer.headers(body, int(time.time())),
        }
        try:
            async with self.session.post(url, data=body, headers=headers) as response:
                return response.status, await response.text()
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"

    async def ws_connect(self, url: str, token: str | None) -> aiohttp.ClientWebSocketResponse:
        headers = {STREAM_TOKEN_HEADER: token} if token is not None else {}
        return await self.session.ws_connect(
            url,
            headers=headers,
            timeout=aiohttp.ClientWSTimeout(ws_close=WS_CLOSE_TIMEOUT_S),
            max_msg_size=MAX_WS_MESSAGE,
            autoping=True,
        )
