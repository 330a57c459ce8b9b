"""Everything the simulated Twilio sends over HTTP or opens as a WebSocket, signed like Twilio.

One aiohttp session for the whole simulator (created on first use, closed with it). Signatures
come from the `twilio` package's `RequestValidator.compute_signature`, over the exact URL
requested (Twilio drops the port of https URLs before signing) plus the form parameters; a
WebSocket upgrade is signed over its URL with no parameters (carriers.md §1.2, §2.3).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp

from bridge.carriers.twilio.signature import SIGNATURE_HEADER, TwilioSignatures
from bridge.sim.carrier_base import MAX_WS_MESSAGE, WS_CLOSE_TIMEOUT_S, LazySession

WEBHOOK_TIMEOUT_S = 15.0  # Twilio gives a webhook 15 s before it fails the request (11205)
USER_AGENT = "TwilioProxy/1.1"


def signing_url(url: str) -> str:
    """The URL Twilio signs: the requested one, minus the port for https (carriers.md §2.3)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.port is not None:
        parts = parts._replace(netloc=parts.netloc.rsplit(":", 1)[0])
    return urlunsplit(parts)


class SignedHttp(LazySession):
    def __init__(self, signatures: TwilioSignatures) -> None:
        super().__init__(WEBHOOK_TIMEOUT_S, "the simulator")
        self.signatures = signatures

    async def request(
        self, url: str, params: Mapping[str, str], method: str = "POST"
    ) -> tuple[int | None, str]:
        """(HTTP status, body) of a signed webhook; (None, reason) when it could not be made."""
        headers = {
            "User-Agent": USER_AGENT,
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        }
        try:
            if method == "GET":
                glue = "&" if urlsplit(url).query else "?"
                url = url + glue + urlencode(params) if params else url
                headers[SIGNATURE_HEADER] = self.signatures.sign(signing_url(url))
                request = self.session.get(url, headers=headers)
            else:
                headers[SIGNATURE_HEADER] = self.signatures.sign(signing_url(url), params)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                request = self.session.post(url, data=urlencode(params), headers=headers)
            async with request as response:
                return response.status, await response.text()
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"

    async def ws_connect(self, url: str) -> aiohttp.ClientWebSocketResponse:
        """Open a media WebSocket the way Twilio does: signed over the URL, no parameters."""
        return await self.session.ws_connect(
            url,
            headers={"User-Agent": USER_AGENT, SIGNATURE_HEADER: self.signatures.sign(url)},
            timeout=aiohttp.ClientWSTimeout(ws_close=WS_CLOSE_TIMEOUT_S),
            max_msg_size=MAX_WS_MESSAGE,
            autoping=True,
        )
