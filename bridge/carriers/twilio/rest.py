"""Twilio call control over REST: dial, hang up, redirect (carriers.md §3).

Built on the `twilio` package's own client and its aiohttp-based `AsyncTwilioHttpClient`, so the
request shape (form fields, auth, headers) is Twilio's, not our guess. The package has no option
for another API host, which our simulator needs: a small subclass rewrites the host instead.
One HTTP session per application; `close()` it on shutdown.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bridge.carriers.interface import CarrierError
from bridge.carriers.twilio.config import DEFAULT_API_URL, TwilioSettings

__all__ = ["CarrierError", "TwilioRest"]

log = structlog.get_logger(__name__)

CALL_NOT_FOUND = 20404
CALL_STATE_INVALID = 21220  # "Invalid call state": e.g. Status=completed on a call not in progress
DEFAULT_STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")


def call_not_found(error: CarrierError) -> bool:
    return error.status == 404 or error.code == CALL_NOT_FOUND


class _ApiHostHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio ships no types
    """Sends what the twilio client addresses to api.twilio.com to `api_url` instead."""

    def __init__(self, api_url: str, timeout_s: float) -> None:
        super().__init__(pool_connections=False)
        self._api_url = api_url.rstrip("/")
        # Our own session, so it gets a timeout: the package passes none per request.
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the package's signature
        allow_redirects: bool = False,
    ) -> Any:
        if self._api_url != DEFAULT_API_URL:
            # Whatever host the client picked (TWILIO_REGION/EDGE may rename it), keep the path.
            parts = urlsplit(url)
            url = self._api_url + parts.path + (f"?{parts.query}" if parts.query else "")
        if auth is not None:  # aiohttp 3.14 deprecates the BasicAuth object the package builds
            credentials = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers = dict(headers or {}) | {"Authorization": f"Basic {credentials}"}
        return await super().request(
            method, url, params, data, headers, None, timeout, allow_redirects
        )


class TwilioRest:
    """Async call control for one Twilio account (or the simulator at `TWILIO_API_URL`)."""

    def __init__(self, settings: TwilioSettings, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._client: Any = None  # created on first use: aiohttp wants a running loop

    def _calls(self) -> Any:
        if self._client is None:
            http = _ApiHostHttpClient(self._settings.api_url, self._timeout_s)
            self._client = Client(
                self._settings.account_sid, self._settings.auth_token, http_client=http
            )
        return self._client.api.v2010.accounts(self._settings.account_sid).calls

    async def close(self) -> None:
        if self._client is not None:
            await self._client.http_client.close()
            self._client = None

    async def create_call(
        self,
        to: str,
        from_: str,
        twiml: str,
        status_callback: str,
        status_events: Sequence[str] = DEFAULT_STATUS_EVENTS,
        timeout_s: int = 30,
    ) -> str:
        """Dial `to`; Twilio runs `twiml` when answered. Returns the new CallSid."""
        call = await self._request(
            "create call",
            self._calls().create_async(
                to=to,
                from_=from_,
                twiml=twiml,
                status_callback=status_callback,
                status_callback_event=list(status_events),
                status_callback_method="POST",
                timeout=timeout_s,
            ),
        )
        log.info("twilio_call_created", call_sid=call.sid, status=call.status)
        return str(call.sid)

    async def hangup(self, call_sid: str) -> None:
        """End the call in whatever state it is; a call that is already gone counts as ended."""
        try:
            try:
                await self._update(call_sid, "hang up", status="completed")
            except CarrierError as error:
                if error.code != CALL_STATE_INVALID:
                    raise
                await self._update(call_sid, "cancel", status="canceled")
        except CarrierError as error:
            if not call_not_found(error):
                raise
            log.debug("twilio_hangup_call_already_ended", call_sid=call_sid)

    async def update_twiml(self, call_sid: str, twiml: str) -> None:
        """Replace the call's running TwiML (this ends any `<Connect><Stream>` in progress)."""
        await self._update(call_sid, "update TwiML", twiml=twiml)

    async def _update(self, call_sid: str, what: str, **fields: str) -> None:
        await self._request(what, self._calls()(call_sid).update_async(**fields), call_sid)

    async def _request(self, what: str, request: Any, call_sid: str | None = None) -> Any:
        target = f" for call {call_sid}" if call_sid else ""
        try:
            return await request
        except TwilioRestException as error:
            raise CarrierError(
                f"Twilio refused to {what}{target}: HTTP {error.status}, "
                f"error {error.code}: {error.msg}",
                status=error.status,
                code=error.code,
            ) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise CarrierError(
                f"could not reach Twilio to {what}{target}: {type(error).__name__}: {error}"
            ) from None
