"""A Plivo simulator: the Voice API over REST, V3-signed webhooks, Plivo XML, audio streams.

Faithful on the paths the bridge uses (carriers.md §6.1, and what bridge/carriers/plivo sends):
it runs the XML the bridge answers with, refuses what Plivo refuses and records what Plivo's
debug log would show. The Twilio simulator is its model: the same `Phone` directory, the same
test-facing call (`PlivoSimCall` is a `Recording`), the same media session. Tests drive it:

    sim = PlivoSimulator()
    api_url = await sim.start()                     # or serve sim.app and set sim.api_url
    sim.answer_url = bridge_url + "/plivo/voice"    # the Plivo application's answer URL
    # configure the bridge: PLIVO_AUTH_ID=sim.auth_id, PLIVO_AUTH_TOKEN=sim.auth_token,
    # PLIVO_API_URL=api_url, PLIVO_CALLER_ID=...
    call = await sim.place_call("+15550100001", "+15550100009", audio=speech)
    await call.stream_started.wait(); await call.wait_heard(8000); await call.hang_up()

`close()` stops everything it started (also on the app's cleanup).
"""

from __future__ import annotations

import secrets
import string
import uuid
from typing import Any

from bridge.carriers.plivo.signature import PlivoSigner
from bridge.sim.carrier_base import SimulatedCarrier
from bridge.sim.plivo_call import PlivoCallSetup, PlivoSimCall
from bridge.sim.plivo_http import PlivoHttp
from bridge.sim.plivo_rest import add_routes
from bridge.sim.softphone import Phone

__all__ = ["Phone", "PlivoSimCall", "PlivoSimulator"]
_ID_CHARS = string.ascii_uppercase + string.digits


def _plus(number: str) -> str:
    """Plivo takes numbers with or without the `+`; the directory keys them with it."""
    return number if number.startswith("+") or not number.isdigit() else "+" + number


def new_auth_id() -> str:
    return "MA" + "".join(secrets.choice(_ID_CHARS) for _ in range(18))


class PlivoSimulator(SimulatedCarrier[PlivoSimCall]):
    API_PATH = "/v1"
    NAME = "the Plivo simulator"

    def __init__(
        self,
        auth_id: str | None = None,
        auth_token: str | None = None,
        default_phone: Phone | None = None,
    ) -> None:
        self.auth_id = auth_id or new_auth_id()
        self.auth_token = auth_token or secrets.token_urlsafe(30)
        self.answer_url: str | None = None  # the Plivo application's (/plivo/voice)
        self.hangup_url: str | None = None  # ... and its hangup URL (None: not set)
        self.signer = PlivoSigner(self.auth_token)
        self._signed = PlivoHttp(self.signer)
        super().__init__(self._signed, default_phone)
        self.requests: dict[str, PlivoSimCall] = {}  # dials, by request_uuid
        add_routes(self.app, self)

    def __repr__(self) -> str:
        return f"PlivoSimulator(auth_id={self.auth_id!r}, api_url={self.api_url!r})"

    def dial(self, fields: dict[str, Any]) -> PlivoSimCall:
        """An outbound call (`POST Call/`), its fields already checked by the REST API."""
        number, caller = _plus(str(fields["to"])), _plus(str(fields["from"]))
        setup = PlivoCallSetup(
            direction="outbound",
            from_=caller,
            to=number,
            answer_url=str(fields["answer_url"]),
            answer_method=str(fields.get("answer_method", "POST")).upper(),
            ring_url=fields.get("ring_url"),
            hangup_url=fields.get("hangup_url"),
            ring_timeout_s=float(fields.get("ring_timeout", 60)),
            request_uuid=str(uuid.uuid4()),
        )
        phone = self.phones.get(number, self.default_phone)
        call = PlivoSimCall(self._signed, self.auth_id, setup, phone, lambda: self.clock_ppm)
        assert setup.request_uuid is not None
        self.requests[setup.request_uuid] = call
        return self._register(call, True)

    async def place_call(
        self,
        from_: str,
        to: str,
        *,
        audio: bytes = b"",
        hangup_after_s: float | None = None,
        digits: str = "",
    ) -> PlivoSimCall:
        """An inbound call from `from_` to our number `to`: Plivo fetches `answer_url` and runs
        what it answers. Returns at once; await `call.stream_started`, `call.ended`, ...
        `audio` (8 kHz PCM16) is what the caller says once a media stream starts."""
        if self.answer_url is None:
            raise RuntimeError("set PlivoSimulator.answer_url (the bridge's /plivo/voice)")
        phone = Phone(ring_s=0.0, audio=audio, hangup_after_s=hangup_after_s, digits=digits)
        setup = PlivoCallSetup("inbound", from_, to, self.answer_url, hangup_url=self.hangup_url)
        call = PlivoSimCall(self._signed, self.auth_id, setup, phone, lambda: self.clock_ppm)
        return self._register(call, False)

    def outbound(self, call: PlivoSimCall) -> bool:
        return call.direction == "outbound"
