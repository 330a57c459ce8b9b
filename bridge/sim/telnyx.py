"""A Telnyx simulator: Call Control v2 over REST, signed webhooks, media streaming.

Faithful on the paths the bridge uses (carriers.md §4, and what bridge/carriers/telnyx sends),
quirks included (telnyx_quirks.py), so that the bridge's Telnyx carrier cannot tell it from
Telnyx. The Twilio simulator (carrier.py) is its model: the same `Phone` directory, the same
test-facing call (`TelnyxSimCall` is a `Recording`), the same media session. Tests drive it:

    sim = TelnyxSimulator()
    api_url = await sim.start()                  # or serve sim.app and set sim.api_url
    sim.webhook_url = bridge_url + "/telnyx/voice"   # the Call Control application's webhook
    # configure the bridge: TELNYX_API_KEY=sim.api_key, TELNYX_PUBLIC_KEY=sim.public_key,
    # TELNYX_CONNECTION_ID=sim.connection_id, TELNYX_API_URL=api_url
    call = await sim.place_call("+15550100001", "+15550100009", audio=speech)
    await call.stream_started.wait(); await call.wait_heard(8000); await call.hang_up()

Everything the simulator starts (call tasks, sockets, its HTTP session, its own server) is
owned here and stopped by `close()`, which also runs on the app's cleanup.
"""

from __future__ import annotations

import secrets

from bridge.carriers.telnyx.signature import TelnyxSigner
from bridge.sim.carrier_base import SimulatedCarrier
from bridge.sim.softphone import Phone
from bridge.sim.telnyx_call import TelnyxCallSetup, TelnyxSimCall
from bridge.sim.telnyx_fields import DialRequest
from bridge.sim.telnyx_http import TelnyxHttp
from bridge.sim.telnyx_quirks import NO_QUIRKS, TelnyxQuirks
from bridge.sim.telnyx_rest import add_routes

__all__ = ["NO_QUIRKS", "Phone", "TelnyxQuirks", "TelnyxSimCall", "TelnyxSimulator"]


class TelnyxSimulator(SimulatedCarrier[TelnyxSimCall]):
    API_PATH = "/v2"
    NAME = "the Telnyx simulator"

    def __init__(
        self,
        api_key: str | None = None,
        connection_id: str | None = None,
        default_phone: Phone | None = None,
        quirks: TelnyxQuirks | None = None,
    ) -> None:
        """`default_phone` answers numbers not in the directory (None: such dials fail,
        cause "not_found"). `quirks` apply to calls created from then on."""
        self.api_key = api_key or "KEY" + secrets.token_hex(16).upper()
        self.connection_id = connection_id or str(secrets.randbelow(9 * 10**18) + 10**18)
        self.quirks = quirks or TelnyxQuirks()
        self.signer = TelnyxSigner.generate()
        self.public_key = self.signer.public_key
        self.webhook_url: str | None = None  # the Call Control application's (/telnyx/voice)
        self._signed = TelnyxHttp(self.signer)
        super().__init__(self._signed, default_phone)
        self._dials: dict[str, TelnyxSimCall] = {}  # by command_id
        add_routes(self.app, self)

    def __repr__(self) -> str:
        return f"TelnyxSimulator(connection_id={self.connection_id!r}, api_url={self.api_url!r})"

    # ---- directory and calls ----------------------------------------------------------------

    def dial(self, request: DialRequest, command_id: str | None = None) -> TelnyxSimCall:
        """An outbound call (`POST /v2/calls`); a repeated `command_id` gets the same call."""
        if command_id is not None and command_id in self._dials:
            return self._dials[command_id]
        setup = TelnyxCallSetup(
            direction="outgoing",
            from_=request.from_,
            to=request.to,
            webhook_url=request.webhook_url or self.webhook_url,
            connection_id=self.connection_id,
            timeout_s=request.timeout_s,
            stream=request.stream,
            client_state=request.client_state,
        )
        call = self._new_call(setup, self.phones.get(request.to, self.default_phone), True)
        if command_id is not None:
            self._dials[command_id] = call
        return call

    async def place_call(
        self,
        from_: str,
        to: str,
        *,
        audio: bytes = b"",
        hangup_after_s: float | None = None,
        digits: str = "",
    ) -> TelnyxSimCall:
        """An inbound call from `from_` to our number `to`: `call.initiated` goes to
        `webhook_url`, then the call waits for the bridge's commands.

        Returns at once; await `call.answered`, `call.stream_started`, `call.ended`, ...
        `audio` (8 kHz PCM16) is what the caller says once a media stream starts.
        """
        if self.webhook_url is None:
            raise RuntimeError("set TelnyxSimulator.webhook_url (the bridge's /telnyx/voice)")
        phone = Phone(ring_s=0.0, audio=audio, hangup_after_s=hangup_after_s, digits=digits)
        setup = TelnyxCallSetup("incoming", from_, to, self.webhook_url, self.connection_id)
        return self._new_call(setup, phone, False)

    def outbound(self, call: TelnyxSimCall) -> bool:
        return call.direction == "outgoing"

    def _new_call(
        self, setup: TelnyxCallSetup, phone: Phone | None, dialled: bool
    ) -> TelnyxSimCall:
        call = TelnyxSimCall(self._signed, setup, phone, self.quirks, lambda: self.clock_ppm)
        return self._register(call, dialled)
