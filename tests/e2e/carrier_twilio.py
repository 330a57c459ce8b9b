"""Twilio as the end-to-end tests see it: its simulator, and what its words mean."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bridge.carriers.twilio.signature import SIGNATURE_HEADER, TwilioSignatures
from bridge.sim.accounts import ACCOUNTS
from bridge.sim.carrier import CarrierSimulator, SimCall

ACCOUNT = ACCOUNTS["twilio"]


class TwilioUnderTest:
    name = "twilio"
    speaks = True
    inbound_chunk_ms = 20
    party_type = SimCall

    def __init__(self, sim: CarrierSimulator) -> None:
        self.sim = sim

    @classmethod
    async def serve(cls, aiohttp_server: Any) -> TwilioUnderTest:
        sim = CarrierSimulator()
        sim.api_url = str((await aiohttp_server(sim.app)).make_url("")).rstrip("/")
        return cls(sim)

    def env(self, bridge_url: str | None) -> dict[str, str]:
        return ACCOUNT.settings(self.sim, bridge_url)

    async def call_in(self, bridge_url: str, from_: str, to: str, **options: Any) -> SimCall:
        call: SimCall = await ACCOUNT.call_in(self.sim, bridge_url, from_, to, **options)
        return call

    @staticmethod
    def control(party: SimCall) -> list[str]:
        words = {"Status=completed": "hang_up", "Status=canceled": "hang_up"}
        return [words.get(update, "redirect") for update in party.api_updates]

    @staticmethod
    def final_status(party: SimCall) -> str:
        return party.status

    @staticmethod
    def worded(outcome: str) -> str:
        return outcome

    def signed_status(
        self, url: str, carrier_call_id: str, outcome: str
    ) -> tuple[bytes, dict[str, str]]:
        form = {
            "CallSid": carrier_call_id,
            "CallStatus": outcome,
            "AccountSid": self.sim.account_sid,
        }
        signature = TwilioSignatures(self.sim.auth_token).sign(url, form)
        headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/x-www-form-urlencoded"}
        return urlencode(form).encode(), headers

    async def close(self) -> None:
        await self.sim.close()
