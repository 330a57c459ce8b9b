"""A Twilio simulator: the Calls REST API, a phone directory, inbound calls, media streams.

Good enough that the real `twilio` client and the bridge cannot tell it from Twilio on the paths
the bridge uses (carriers.md §1-§3). Tests drive it directly:

    sim = CarrierSimulator()
    sim.add_phone("+15550100002", Phone(audio=speech, hangup_after_s=3))
    server = await aiohttp_server(sim.app)           # or: api_url = await sim.start()
    call = await sim.place_call("+15550100001", "+15550100009", voice_url, audio=speech)
    await call.stream_started.wait(); await call.wait_heard(8000); await call.hang_up()

Everything the simulator starts (call tasks, sockets, its HTTP session, its own server) is
owned here and stopped by `close()`, which also runs on the app's cleanup.
"""

from __future__ import annotations

import asyncio
import secrets

from aiohttp import web

from bridge.carriers.twilio.signature import TwilioSignatures
from bridge.sim.carrier_call import CallSetup, SimCall
from bridge.sim.carrier_http import SignedHttp
from bridge.sim.carrier_rest import add_routes
from bridge.sim.carrier_stream import new_sid
from bridge.sim.softphone import Phone
from bridge.sim.softphone_record import Recording
from bridge.sim.twiml_exec import Document

__all__ = ["CarrierSimulator", "Phone", "SimCall"]


class CarrierSimulator:
    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        default_phone: Phone | None = None,
    ) -> None:
        """`default_phone` answers numbers not in the directory (None: such calls fail)."""
        self.default_phone = default_phone
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.signatures = TwilioSignatures(self.auth_token)
        self.phones: dict[str, Phone] = {}
        self.calls: dict[str, SimCall] = {}
        self.api_url: str | None = None  # set by start(); with aiohttp_server use its URL
        self._http = SignedHttp(self.signatures)
        self._dialled = Recording()  # only its waiter machinery: "a call to X was created"
        self._claimed: set[str] = set()
        self._runner: web.AppRunner | None = None
        self._closed = False
        self.app = web.Application()
        add_routes(self.app, self)
        self.app.on_cleanup.append(self._on_cleanup)

    def __repr__(self) -> str:
        return f"CarrierSimulator(account_sid={self.account_sid!r}, api_url={self.api_url!r})"

    # ---- directory and calls ----------------------------------------------------------------

    def add_phone(self, number: str, phone: Phone | None = None) -> None:
        """Registers `number`: outbound calls to it ring and behave as `phone` says."""
        self.phones[number] = phone or Phone()

    def dial(self, setup: CallSetup) -> SimCall:
        """An outbound call (the REST create): rings the directory entry for `setup.to`."""
        call = self._new_call(setup, self.phones.get(setup.to, self.default_phone))
        self._dialled.notify()
        return call

    async def next_call(self, to: str | None = None) -> SimCall:
        """The oldest outbound call (to `to`, if given) not yet returned by this method."""
        found: list[SimCall] = []

        def pending() -> bool:
            for call in self.calls.values():
                outbound = call.direction != "inbound" and call.sid not in self._claimed
                if outbound and (to is None or call.to == to):
                    found.append(call)
                    return True
            return False

        await self._dialled.wait_until(pending)
        self._claimed.add(found[0].sid)
        return found[0]

    async def place_call(
        self,
        from_: str,
        to: str,
        voice_url: str,
        *,
        audio: bytes = b"",
        hangup_after_s: float | None = None,
        digits: str = "",
        method: str = "POST",
        status_callback: str | None = None,
        status_events: tuple[str, ...] = ("completed",),
    ) -> SimCall:
        """An inbound call from `from_` to our number `to`, whose voice webhook is `voice_url`.

        Returns at once; await `call.answered`, `call.stream_started`, `call.ended`, ...
        `audio` (8 kHz PCM16) is what the caller says once a media stream starts.
        """
        phone = Phone(ring_s=0.0, audio=audio, hangup_after_s=hangup_after_s, digits=digits)
        setup = CallSetup(
            direction="inbound",
            from_=from_,
            to=to,
            document=Document(voice_url, method.upper()),
            status_callback=status_callback,
            status_events=status_events,
        )
        return self._new_call(setup, phone)

    def _new_call(self, setup: CallSetup, phone: Phone | None) -> SimCall:
        if self._closed:
            raise RuntimeError("the carrier simulator is closed")
        call = SimCall(self._http, self.account_sid, new_sid("CA"), setup, phone)
        self.calls[call.sid] = call
        call.start()
        return call

    # ---- serving and shutdown -------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serves the REST API on its own; returns the base URL (TWILIO_API_URL)."""
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1]
        self.api_url = f"http://{host}:{bound_port}"
        return self.api_url

    async def close(self) -> None:
        """Ends every call (no callbacks), closes every socket and session; idempotent."""
        if self._closed:
            return
        self._closed = True
        await asyncio.gather(*(call.close() for call in self.calls.values()))
        self._dialled.fail_waiters()
        await self._http.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()  # runs _on_cleanup, which returns at once now

    async def _on_cleanup(self, app: web.Application) -> None:
        await self.close()
