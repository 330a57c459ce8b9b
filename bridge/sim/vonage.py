"""A Vonage simulator: the Voice API over REST, signed webhooks, NCCOs, binary media streams.

Faithful on the paths the bridge uses (carriers.md §5, and what bridge/carriers/vonage sends),
so that the bridge's Vonage carrier cannot tell it from Vonage: it refuses what Vonage refuses
(REST calls without the application's JWT, NCCOs it cannot run, audio that is not exactly one
20 ms frame) and records the warning Vonage would show. The Telnyx simulator (telnyx.py) is its
model: the same `Phone` directory, the same test-facing call, the same media session.

    sim = VonageSimulator()
    api_url = await sim.start()                      # or serve sim.app and set sim.api_url
    sim.answer_url = sim.event_url = bridge_url + "/vonage/voice"   # the application's URLs
    # configure the bridge: VONAGE_APPLICATION_ID=sim.application_id,
    # VONAGE_PRIVATE_KEY=sim.private_key, VONAGE_SIGNATURE_SECRET=sim.signature_secret,
    # VONAGE_API_URL=api_url
    call = await sim.place_call("+15550100001", "+15550100009", audio=speech)
    await call.stream_started.wait(); await call.wait_heard(8000); await call.hang_up()
"""

from __future__ import annotations

import secrets
import uuid

from bridge.carriers.vonage.appjwt import ApplicationTokens, generate_private_key, public_key_of
from bridge.carriers.vonage.signature import VonageSigner
from bridge.sim.carrier_base import SimulatedCarrier
from bridge.sim.softphone import Phone
from bridge.sim.vonage_call import VonageCallSetup, VonageSimCall
from bridge.sim.vonage_http import VonageHttp
from bridge.sim.vonage_rest import add_routes

__all__ = ["Phone", "VonageSimCall", "VonageSimulator"]


class VonageSimulator(SimulatedCarrier[VonageSimCall]):
    NAME = "the Vonage simulator"

    def __init__(
        self,
        application_id: str | None = None,
        signature_secret: str | None = None,
        default_phone: Phone | None = None,
    ) -> None:
        """`default_phone` answers numbers not in the directory (None: such dials fail)."""
        self.application_id = application_id or str(uuid.uuid4())
        self.signature_secret = signature_secret or secrets.token_urlsafe(36)
        self.private_key = generate_private_key()  # the application's: the bridge's setting
        self.public_key = public_key_of(self.private_key)  # what Vonage keeps
        self.api_key = secrets.token_hex(4)
        self.tokens = ApplicationTokens(self.public_key, self.application_id)
        self.signer = VonageSigner(self.signature_secret, self.application_id, self.api_key)
        self.answer_url: str | None = None  # the application's answer URL (/vonage/voice)
        self.answer_method = "GET"
        self.event_url: str | None = None  # the application's event URL (/vonage/voice)
        self.fail_next: list[int] = []  # fault: the next REST requests get these statuses
        self.requests: list[str] = []  # every REST request, as "METHOD /path"
        self._signed = VonageHttp(self.signer)
        super().__init__(self._signed, default_phone)
        add_routes(self.app, self)

    def __repr__(self) -> str:
        return f"VonageSimulator(application_id={self.application_id!r}, api_url={self.api_url!r})"

    def dial(self, setup: VonageCallSetup) -> VonageSimCall:
        """An outbound call (`POST /v1/calls`), ringing at once."""
        call = VonageSimCall(
            self._signed, setup, self.phones.get(setup.to, self.default_phone), self._ppm
        )
        return self._register(call, True)

    async def place_call(
        self,
        from_: str,
        to: str,
        *,
        audio: bytes = b"",
        hangup_after_s: float | None = None,
        digits: str = "",
    ) -> VonageSimCall:
        """An inbound call from `from_` to our number `to`: the answer URL is fetched, and its
        NCCO runs. Returns at once; await `call.answered`, `call.stream_started`, `call.ended`.
        `audio` (8 kHz PCM16) is what the caller says once a media stream starts."""
        if self.answer_url is None:
            raise RuntimeError("set VonageSimulator.answer_url (the bridge's /vonage/voice)")
        phone = Phone(ring_s=0.0, audio=audio, hangup_after_s=hangup_after_s, digits=digits)
        setup = VonageCallSetup(
            "inbound", from_, to, self.event_url, self.answer_url, self.answer_method
        )
        return self._register(VonageSimCall(self._signed, setup, phone, self._ppm), False)

    def outbound(self, call: VonageSimCall) -> bool:
        return call.direction == "outbound"

    def _ppm(self) -> float:
        return self.clock_ppm
