"""Exotel as the end-to-end tests see it: its simulator, and what its words mean.

Exotel has no REST call control: the bridge hangs an Exotel leg up by closing its media socket,
and the flow's Hangup applet then ends the call; that is its "hang_up". Nothing can be said
on Exotel, so where other carriers redirect a leg to an apology it is hung up the same way.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bridge.carriers.exotel.auth import basic_header
from bridge.sim.accounts import ACCOUNTS, CALLER_ID
from bridge.sim.exotel import ExotelSimCall, ExotelSimulator

ACCOUNT = ACCOUNTS["exotel"]


class ExotelUnderTest:
    name = "exotel"
    speaks = False  # no text-to-speech: no greeting, menu or apology (README, Exotel)
    inbound_chunk_ms = 100  # the Voicebot applet sends ~100 ms chunks
    party_type = ExotelSimCall

    def __init__(self, sim: ExotelSimulator) -> None:
        self.sim = sim

    @classmethod
    async def serve(cls, aiohttp_server: Any) -> ExotelUnderTest:
        sim = ExotelSimulator(caller_id=CALLER_ID)
        sim.api_url = str((await aiohttp_server(sim.app)).make_url("")).rstrip("/")
        return cls(sim)

    def env(self, bridge_url: str | None) -> dict[str, str]:
        """The flow's Voicebot applet is pointed at `bridge_url` (None: left where it points)."""
        return ACCOUNT.settings(self.sim, bridge_url)

    async def call_in(self, bridge_url: str, from_: str, to: str, **options: Any) -> ExotelSimCall:
        call: ExotelSimCall = await ACCOUNT.call_in(self.sim, bridge_url, from_, to, **options)
        return call

    @staticmethod
    def control(party: ExotelSimCall) -> list[str]:
        return ["hang_up"] if party.closed_by == "bridge" else []

    @staticmethod
    def final_status(party: ExotelSimCall) -> str:
        return party.status

    @staticmethod
    def worded(outcome: str) -> str:
        return outcome  # Exotel's words are Twilio's

    def signed_status(
        self, url: str, carrier_call_id: str, outcome: str
    ) -> tuple[bytes, dict[str, str]]:
        form = {"CallSid": carrier_call_id, "Status": outcome, "EventType": "terminal"}
        headers = {
            "Authorization": basic_header(self.sim.webhook_user, self.sim.webhook_password),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return urlencode(form).encode(), headers

    async def close(self) -> None:
        await self.sim.close()
