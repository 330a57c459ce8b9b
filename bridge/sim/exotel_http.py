"""Everything the simulated Exotel sends over HTTP or opens as a WebSocket, and its callbacks.

Exotel signs nothing: it authenticates with the Basic credentials written into each URL it was
given (`https://user:pass@host/...`), sent as `Authorization: Basic ...` (carriers.md §6.2).
So every request here takes the credentials out of the URL and sends them as that header;
a URL without them goes out without one (Exotel's IP allow-listing case), and the bridge is
expected to refuse it. Status callbacks go one at a time, in order, from a task per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

from bridge.carriers.exotel.auth import basic_header
from bridge.sim.carrier_base import (
    MAX_WS_MESSAGE,
    WS_CLOSE_TIMEOUT_S,
    InOrderDelivery,
    LazySession,
)
from bridge.sim.softphone import StatusCallbackRecord
from bridge.sim.softphone_record import Recording

WEBHOOK_TIMEOUT_S = 10.0
USER_AGENT = "Exotel/1.0"
CALLBACK_FAILED = 3  # not an Exotel code: the simulator's warning for an undelivered callback


def credentials(url: str) -> tuple[str, dict[str, str]]:
    """`url` without its userinfo, and the Authorization header that userinfo makes."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, {}
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    header = basic_header(unquote(user), unquote(password))
    return urlunsplit(parts._replace(netloc=host)), {"Authorization": header}


class ExotelHttp(LazySession):
    def __init__(self) -> None:
        super().__init__(WEBHOOK_TIMEOUT_S, "the Exotel simulator")

    async def request(
        self, method: str, url: str, params: Mapping[str, str]
    ) -> tuple[int | None, str]:
        """(HTTP status, body) of a GET (`params` in the query) or a form POST; (None, reason)
        when it could not be made."""
        bare, headers = credentials(url)
        headers |= {"User-Agent": USER_AGENT}
        try:
            if method == "GET":
                call = self.session.get(bare, params=dict(params), headers=headers)
            else:
                call = self.session.post(bare, data=dict(params), headers=headers)
            async with call as response:
                return response.status, await response.text()
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            return None, f"{type(error).__name__}: {error}"

    async def ws_connect(self, url: str) -> aiohttp.ClientWebSocketResponse:
        bare, headers = credentials(url)
        return await self.session.ws_connect(
            bare,
            headers=headers | {"User-Agent": USER_AGENT},
            timeout=aiohttp.ClientWSTimeout(ws_close=WS_CLOSE_TIMEOUT_S),
            max_msg_size=MAX_WS_MESSAGE,
            autoping=True,
        )


class StatusCallbacks(InOrderDelivery[tuple[str, dict[str, str]]]):
    """A dialled call's status callbacks (`StatusCallbackEvents`: answered, terminal)."""

    def __init__(
        self, http: ExotelHttp, record: Recording, url: str | None, events: tuple[str, ...]
    ) -> None:
        super().__init__()
        self._http, self._record, self._url, self._events = http, record, url, events

    def send(self, event: str, params: dict[str, str]) -> None:
        """Queues the callback of `event` ("answered" or "terminal") if it was asked for;
        Exotel sends `terminal` whether or not it was listed."""
        if self._url is None or (event != "terminal" and event not in self._events):
            return
        self._put((self._url, params | {"EventType": event}))

    async def _deliver(self, item: tuple[str, dict[str, str]]) -> None:
        (url, params), record = item, self._record
        status, body = await self._http.request("POST", url, params)
        record.status_callbacks.append(StatusCallbackRecord(params, status))
        if status is None or status >= 400:
            record.warn(CALLBACK_FAILED, f"status callback got {status or body}")
        record.notify()
