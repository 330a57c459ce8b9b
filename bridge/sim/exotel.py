"""An Exotel simulator: the flow (Voicebot, then Hangup), `Calls/connect`, status callbacks.

Faithful on the paths the bridge uses (carriers.md §6.2, and what bridge/carriers/exotel sends),
so that the bridge's Exotel carrier cannot tell it from Exotel. The Twilio and Telnyx simulators
are its models: the same `Phone` directory, the same test-facing call (`ExotelSimCall` is a
`Recording`), the same media session. Tests drive it:

    sim = ExotelSimulator()
    api_url = await sim.start()                   # or serve sim.app and set sim.api_url
    sim.voicebot_url = sim.applet_url(bridge_url)  # the flow's Voicebot URL, with userinfo
    # configure the bridge: EXOTEL_ACCOUNT_SID=sim.account_sid, EXOTEL_API_KEY=sim.api_key,
    # EXOTEL_API_TOKEN=sim.api_token, EXOTEL_APP_ID=sim.app_id, EXOTEL_CALLER_ID=sim.caller_id,
    # EXOTEL_WEBHOOK_USER=sim.webhook_user, EXOTEL_WEBHOOK_PASSWORD=sim.webhook_password,
    # EXOTEL_API_URL=api_url
    call = await sim.place_call("+919800000001", sim.caller_id, audio=speech)
    await call.stream_started.wait(); await call.wait_heard(8000); await call.hang_up()

Everything the simulator starts (call tasks, sockets, its HTTP session, its own server) is
owned here and stopped by `close()`, which also runs on the app's cleanup.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from bridge.carriers.exotel.auth import with_userinfo
from bridge.sim.carrier_base import SimulatedCarrier
from bridge.sim.exotel_call import ExotelCallSetup, ExotelSimCall
from bridge.sim.exotel_http import ExotelHttp
from bridge.sim.exotel_rest import add_routes
from bridge.sim.softphone import Phone

__all__ = ["ExotelSimCall", "ExotelSimulator", "Phone", "exotel_call_in", "exotel_settings"]
DEFAULT_CALLER_ID = "+15550100000"  # bridge.sim.accounts.CALLER_ID


class ExotelSimulator(SimulatedCarrier[ExotelSimCall]):
    NAME = "the Exotel simulator"

    def __init__(
        self,
        caller_id: str = DEFAULT_CALLER_ID,
        default_phone: Phone | None = None,
    ) -> None:
        """`caller_id`: the account's ExoPhone. `default_phone` answers numbers not in the
        directory (None: such dials fail)."""
        self.account_sid = "kallglot" + secrets.token_hex(4)
        self.api_key = secrets.token_hex(20)
        self.api_token = secrets.token_hex(20)
        self.app_id = str(secrets.randbelow(900_000) + 100_000)
        self.caller_id = caller_id
        self.exophones = {caller_id}  # a number a test calls in on becomes one too
        self.webhook_user = "exotel"
        self.webhook_password = secrets.token_hex(16)
        self.voicebot_url: str | None = None  # the flow's Voicebot applet URL (dynamic)
        self.failure_greeting: str | None = None  # the flow's failure branch: a Greeting?
        self.dial_failures: list[int] = []  # HTTP statuses the next dials get (faults)
        self._exotel = ExotelHttp()
        super().__init__(self._exotel, default_phone)
        add_routes(self.app, self)

    def __repr__(self) -> str:
        return f"ExotelSimulator(account_sid={self.account_sid!r}, api_url={self.api_url!r})"

    def applet_url(self, bridge_url: str) -> str:
        """The Voicebot URL an operator enters for the bridge at `bridge_url`."""
        url = bridge_url.rstrip("/") + "/exotel/voice"
        return with_userinfo(url, self.webhook_user, self.webhook_password)

    # ---- directory and calls ----------------------------------------------------------------

    def dial(
        self,
        to: str,
        caller_id: str,
        custom_field: str,
        status_callback: str | None,
        status_events: tuple[str, ...],
        timeout_s: float,
    ) -> ExotelSimCall:
        """An outbound call (`Calls/connect`): rings `to`, then runs the flow."""
        setup = replace(
            self._setup("outbound-api", caller_id, to),
            custom_field=custom_field,
            status_callback=status_callback,
            status_events=status_events,
            timeout_s=timeout_s,
        )
        return self._new_call(setup, self.phones.get(to, self.default_phone), True)

    async def place_call(
        self,
        from_: str,
        to: str,
        *,
        audio: bytes = b"",
        hangup_after_s: float | None = None,
        digits: str = "",
    ) -> ExotelSimCall:
        """An inbound call from `from_` to our ExoPhone `to`, answered by the flow at once.

        Returns at once; await `call.stream_started`, `call.ended`, ... `audio` (8 kHz PCM16)
        is what the caller says once a media stream starts.
        """
        if self.voicebot_url is None:
            raise RuntimeError("set ExotelSimulator.voicebot_url (see applet_url)")
        self.exophones.add(to)
        phone = Phone(ring_s=0.0, audio=audio, hangup_after_s=hangup_after_s, digits=digits)
        return self._new_call(self._setup("inbound", from_, to), phone, False)

    def outbound(self, call: ExotelSimCall) -> bool:
        return call.direction != "inbound"

    def _setup(self, direction: str, from_: str, to: str) -> ExotelCallSetup:
        return ExotelCallSetup(
            direction, from_, to, self.account_sid, self.voicebot_url, self.failure_greeting
        )

    def _new_call(
        self, setup: ExotelCallSetup, phone: Phone | None, dialled: bool
    ) -> ExotelSimCall:
        call = ExotelSimCall(self._exotel, setup, phone, lambda: self.clock_ppm)
        return self._register(call, dialled)


def exotel_settings(sim: ExotelSimulator, bridge_url: str | None) -> dict[str, str]:
    """The bridge's settings for `sim`'s account; the flow's Voicebot applet is pointed at
    `bridge_url` (None: left where it points). For bridge/sim/accounts.py."""
    if bridge_url is not None:
        sim.voicebot_url = sim.applet_url(bridge_url)
    return {
        "EXOTEL_ACCOUNT_SID": sim.account_sid,
        "EXOTEL_API_KEY": sim.api_key,
        "EXOTEL_API_TOKEN": sim.api_token,
        "EXOTEL_API_URL": sim.api_url or "",
        "EXOTEL_CALLER_ID": sim.caller_id,
        "EXOTEL_APP_ID": sim.app_id,
        "EXOTEL_WEBHOOK_USER": sim.webhook_user,
        "EXOTEL_WEBHOOK_PASSWORD": sim.webhook_password,
    }


async def exotel_call_in(
    sim: ExotelSimulator, bridge_url: str, from_: str, to: str, **options: Any
) -> ExotelSimCall:
    """A party calls our ExoPhone `to` (the flow's applet already points at the bridge)."""
    return await sim.place_call(from_, to, **options)
