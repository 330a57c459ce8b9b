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

WEBHOOK_TIMEOUT_S = 10.0
WS_CLOSE_TIMEOUT_S = 2.0
MAX_WS_MESSAGE = 4 * 1024 * 1024
USER_AGENT = "telnyx-webhooks"


class TelnyxHttp:
    def __init__(self, signer: TelnyxSigner) -> None:
        self.signer = signer
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the Telnyx simulator is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S)
            )
        return self._session

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

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None
