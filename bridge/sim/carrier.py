"""A Twilio simulator: the Calls REST API, a phone directory, inbound calls, media streams,
and the account with its phone numbers (carrier_numbers.py).

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

import secrets
from typing import Any

from bridge.carriers.twilio.signature import TwilioSignatures
from bridge.sim.carrier_base import SimulatedCarrier
from bridge.sim.carrier_call import CallSetup, SimCall
from bridge.sim.carrier_http import SignedHttp
from bridge.sim.carrier_numbers import OwnedNumber
from bridge.sim.carrier_numbers import add_routes as add_number_routes
from bridge.sim.carrier_rest import add_routes
from bridge.sim.carrier_stream import new_sid
from bridge.sim.softphone import Phone
from bridge.sim.twiml_exec import Document

__all__ = ["CarrierSimulator", "Phone", "SimCall"]


class CarrierSimulator(SimulatedCarrier[SimCall]):
    NAME = "the carrier simulator"
    account_status = "active"  # the Account resource's; "suspended" and "closed" also exist
    account_type = "Full"  # or "Trial"

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        default_phone: Phone | None = None,
    ) -> None:
        """`default_phone` answers numbers not in the directory (None: such calls fail)."""
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.signatures = TwilioSignatures(self.auth_token)
        self._signed = SignedHttp(self.signatures)
        super().__init__(self._signed, default_phone)
        self.numbers: dict[str, OwnedNumber] = {}  # the account's phone numbers, by PN sid
        add_routes(self.app, self)
        add_number_routes(self.app, self)

    def __repr__(self) -> str:
        return f"CarrierSimulator(account_sid={self.account_sid!r}, api_url={self.api_url!r})"

    # ---- directory and calls ----------------------------------------------------------------

    def outbound(self, call: SimCall) -> bool:
        return call.direction != "inbound"

    def dial(self, setup: CallSetup) -> SimCall:
        """An outbound call (the REST create): rings the directory entry for `setup.to`."""
        return self._new_call(setup, self.phones.get(setup.to, self.default_phone), dialled=True)

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
        return self._new_call(setup, phone, dialled=False)

    def own_number(
        self, phone_number: str, voice_url: str | None = None, **fields: Any
    ) -> OwnedNumber:
        """Gives the account `phone_number` (an IncomingPhoneNumber), calling `voice_url`;
        `fields` are other OwnedNumber attributes (`voice_application_sid`, `trunk_sid`...)."""
        number = OwnedNumber(phone_number, voice_url=voice_url, **fields)
        self.numbers[number.sid] = number
        return number

    async def call_number(self, from_: str, to: str, **options: Any) -> SimCall:
        """Someone calls `to`, one of the account's numbers: Twilio fetches the voice URL set
        on that number (see `own_number`, and the IncomingPhoneNumbers API)."""
        owned = [n for n in self.numbers.values() if n.phone_number == to]
        if not owned:
            raise LookupError(f"{to} is not a number of account {self.account_sid}")
        number = owned[0]
        if number.voice_application_sid or number.trunk_sid or not number.voice_url:
            raise LookupError(f"{to} has no voice URL of its own (an application, a trunk or none)")
        return await self.place_call(
            from_, to, number.voice_url, method=number.voice_method, **options
        )

    def _new_call(self, setup: CallSetup, phone: Phone | None, dialled: bool) -> SimCall:
        call = SimCall(
            self._signed, self.account_sid, new_sid("CA"), setup, phone, lambda: self.clock_ppm
        )
        return self._register(call, dialled)
