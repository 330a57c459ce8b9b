"""The Twilio account itself over REST: is it there and does it take our credentials, and which
voice webhook does each of its phone numbers call (IncomingPhoneNumbers).

For the preflight check and `configure-numbers` (bridge/preflight/), not the call path: call
control stays in rest.py. Built on the `twilio` package's client, like rest.py and with its
host rewrite, so requests have Twilio's shape and reach the simulator at `TWILIO_API_URL`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bridge.carriers.interface import CarrierError
from bridge.carriers.twilio.config import TwilioSettings
from bridge.carriers.twilio.rest import _ApiHostHttpClient


@dataclass(frozen=True, slots=True)
class AccountInfo:
    sid: str
    friendly_name: str
    status: str  # active, suspended, closed
    type: str  # Full or Trial (a trial account plays a notice and calls verified numbers only)


@dataclass(frozen=True, slots=True)
class IncomingNumber:
    """A phone number of the account, and where Twilio sends its incoming calls."""

    sid: str  # PN...
    phone_number: str
    voice_url: str | None
    voice_method: str | None
    # Either of these set means Twilio ignores voice_url: the TwiML App's (or SIP trunk's) wins.
    voice_application_sid: str | None = None
    trunk_sid: str | None = None

    @classmethod
    def from_instance(cls, number: Any) -> IncomingNumber:
        return cls(
            sid=str(number.sid),
            phone_number=str(number.phone_number),
            voice_url=number.voice_url or None,
            voice_method=number.voice_method or None,
            voice_application_sid=number.voice_application_sid or None,
            trunk_sid=number.trunk_sid or None,
        )


class TwilioAccount:
    """One account's REST API; use as `async with TwilioAccount(settings) as account`."""

    def __init__(self, settings: TwilioSettings, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self._timeout_s = timeout_s
        self._client: Any = None  # made on first use: aiohttp wants a running loop

    async def __aenter__(self) -> TwilioAccount:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.http_client.close()
            self._client = None

    def _account(self) -> Any:
        if self._client is None:
            http = _ApiHostHttpClient(self.settings.api_url, self._timeout_s)
            self._client = Client(
                self.settings.account_sid, self.settings.auth_token, http_client=http
            )
        return self._client.api.v2010.accounts(self.settings.account_sid)

    async def fetch(self) -> AccountInfo:
        """The account resource: the cheapest request that proves the SID and token."""
        account = await self._request("fetch the account", self._account().fetch_async())
        return AccountInfo(
            sid=str(account.sid),
            friendly_name=str(account.friendly_name or ""),
            status=str(account.status or ""),
            type=str(account.type or ""),
        )

    async def incoming_numbers(self, phone_number: str) -> list[IncomingNumber]:
        """The account's numbers equal to `phone_number` (Twilio's filter also matches parts)."""
        found = await self._request(
            f"look up {phone_number}",
            self._account().incoming_phone_numbers.list_async(phone_number=phone_number),
        )
        numbers = [IncomingNumber.from_instance(n) for n in found]
        return [n for n in numbers if n.phone_number == phone_number]

    async def set_voice_url(
        self, number_sid: str, url: str, method: str = "POST"
    ) -> IncomingNumber:
        """Points the number's incoming calls ("A call comes in") at `url`."""
        updated = await self._request(
            f"update {number_sid}",
            self._account()
            .incoming_phone_numbers(number_sid)
            .update_async(voice_url=url, voice_method=method),
        )
        return IncomingNumber.from_instance(updated)

    async def _request(self, what: str, request: Awaitable[Any]) -> Any:
        try:
            return await request
        except TwilioRestException as error:
            raise CarrierError(
                f"Twilio refused to {what}: HTTP {error.status}, error {error.code}: {error.msg}",
                status=error.status,
                code=error.code,
            ) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise CarrierError(
                f"could not reach Twilio to {what}: {type(error).__name__}: {error}".rstrip(": ")
            ) from None
