"""Everything the simulated Plivo sends over HTTP, signed with V3, and its callbacks in order.

Webhooks (answer URLs, GetDigits actions, ring and hangup callbacks) are form POSTs (or GETs)
signed the way Plivo signs them (bridge/carriers/plivo/signature.py), each with a fresh nonce.
The media WebSocket is opened unsigned, as Plivo does: the bridge's own URL token is its proof.
Ring and hangup callbacks go out one at a time, in order, so test output reads as a story; one
refused is recorded as a warning and changes nothing about the call.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

import aiohttp

from bridge.carriers.plivo.signature import PlivoSigner
from bridge.sim.carrier_base import (
    MAX_WS_MESSAGE,
    WS_CLOSE_TIMEOUT_S,
    InOrderDelivery,
    LazySession,
)
from bridge.sim.softphone import StatusCallbackRecord
from bridge.sim.softphone_record import Recording

WEBHOOK_TIMEOUT_S = 15.0
USER_AGENT = "PlivoHTTP/1.0"
CALLBACK_FAILED = 4010  # the simulator's code (Plivo documents none): a callback was refused


class PlivoHttp(LazySession):
    def __init__(self, signer: PlivoSigner) -> None:
        super().__init__(WEBHOOK_TIMEOUT_S, "the Plivo simulator")
        self.signer = signer

    async def request(
        self, url: str, params: Mapping[str, str], method: str = "POST"
    ) -> tuple[int | None, str]:
        """(HTTP status, body) of a signed webhook; (None, reason) when it could not be made."""
        headers = {"User-Agent": USER_AGENT}
        nonce = str(secrets.randbelow(10**20))
        try:
            if method == "GET":
                glue = "&" if urlsplit(url).query else "?"
                url = url + glue + urlencode(params) if params else url
                headers |= self.signer.headers("GET", url, {}, nonce)
                request = self.session.get(url, headers=headers)
            else:
                headers |= self.signer.headers("POST", url, dict(params), nonce)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                request = self.session.post(url, data=urlencode(params), headers=headers)
            async with request as response:
                return response.status, await response.text()
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"

    async def ws_connect(self, url: str) -> aiohttp.ClientWebSocketResponse:
        return await self.session.ws_connect(
            url,
            headers={"User-Agent": USER_AGENT},
            timeout=aiohttp.ClientWSTimeout(ws_close=WS_CLOSE_TIMEOUT_S),
            max_msg_size=MAX_WS_MESSAGE,
            autoping=True,
        )


class Callbacks(InOrderDelivery[tuple[str, str, dict[str, str]]]):
    """One call's ring and hangup callbacks, delivered in order."""

    def __init__(self, http: PlivoHttp, record: Recording) -> None:
        super().__init__()
        self._http, self._record = http, record

    def send(self, url: str | None, method: str, params: dict[str, str]) -> None:
        if url is None:
            return
        self._put((url, method, params))

    async def _deliver(self, item: tuple[str, str, dict[str, str]]) -> None:
        (url, method, params), record = item, self._record
        status, body = await self._http.request(url, params, method)
        record.status_callbacks.append(StatusCallbackRecord(params, status))
        if status is None or status >= 400:
            record.warn(CALLBACK_FAILED, f"{method} {url} got {status or body}")
        record.notify()
