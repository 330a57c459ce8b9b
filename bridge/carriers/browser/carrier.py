"""The agent console as a carrier (bridge/carriers/interface.py): one more kind of leg.

Dialling `browser:<agent>` rings that agent's open consoles through the `Desk`; status changes
come from the desk instead of an HTTP webhook, and the media stream is the page's WebSocket on
`/browser/media/{call_id}`. Above this package the call does not know the leg is a browser.
The console has no voice webhooks: a browser never calls the bridge as a new call.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from bridge.carriers.browser.desk import Desk
from bridge.carriers.browser.protocol import BrowserMediaStream
from bridge.carriers.interface import (
    Answer,
    CarrierControl,
    CarrierError,
    IncomingCall,
    Redirect,
    StreamTarget,
    Webhook,
    WebhookRefused,
)

NAME = "browser"
PREFIX = "browser:"  # a route's or an API call's agent that is a console, not a number


class BrowserControl:
    def __init__(self, desk: Desk) -> None:
        self._desk = desk

    @property
    def caller_id(self) -> str | None:
        return "console"  # nobody sees it: a console shows the call, not a caller id

    async def dial(
        self, to: str, from_: str, stream: StreamTarget, status_url: str, ring_timeout_s: int
    ) -> str:
        agent = to.removeprefix(PREFIX)
        # The status path names the call and the leg (bridge/calls/control.py, status_path):
        # the desk reports to them directly instead of over HTTP.
        *_, call_id, role = urlsplit(status_url).path.split("/")
        if not agent or not call_id or not role:
            raise CarrierError(f"cannot ring console {to!r} for status URL {status_url!r}")
        return self._desk.ring(agent, call_id, role, stream, ring_timeout_s)

    async def hang_up(self, carrier_call_id: str) -> None:
        self._desk.hang_up(carrier_call_id)

    async def redirect(self, carrier_call_id: str, to: Redirect) -> None:
        """A console cannot be read an apology or transferred: the call ends for it."""
        self._desk.hang_up(carrier_call_id)

    async def settle(self, timeout_s: float) -> None:
        """Nothing is left to a later webhook."""

    async def close(self) -> None:
        await self._desk.close()


class BrowserCarrier:
    def __init__(self, desk: Desk | None = None) -> None:
        self.desk = desk or Desk()
        self._control = BrowserControl(self.desk)

    @property
    def name(self) -> str:
        return NAME

    @property
    def speaks(self) -> bool:
        return False

    @property
    def control(self) -> CarrierControl:
        return self._control

    def media_stream(self, call_id: str) -> BrowserMediaStream:
        return BrowserMediaStream(self.desk.leg_refusal, call_id)

    def upgrade_refusal(self, request: web.Request, public_url: str) -> str | None:
        """Anyone may try: the ticket in `start`, handed out by the desk to the agent who
        answered, is the proof (checked after the upgrade, like every carrier's ticket)."""
        return None

    async def read_webhook(self, request: web.Request, public_url: str, kind: str) -> Webhook:
        raise WebhookRefused(404, "the console leg has no webhooks", "browser_webhook")

    async def answer(self, call: IncomingCall, answer: Answer) -> web.Response:
        raise web.HTTPNotFound(text="the console leg has no webhooks\n")
