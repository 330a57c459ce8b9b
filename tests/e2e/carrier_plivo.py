"""Plivo as the end-to-end tests see it: its simulator, and what its words mean."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from bridge.sim.accounts import ACCOUNTS
from bridge.sim.plivo import PlivoSimCall, PlivoSimulator

# A call's outcome as Plivo words it (its CallStatus, which the bridge records).
WORDS = {
    "completed": "completed",
    "no-answer": "no-answer",
    "busy": "busy",
    "canceled": "cancel",
    "failed": "failed",
}
STATUS = {word: outcome for outcome, word in WORDS.items()} | {"timeout": "no-answer"}


ACCOUNT = ACCOUNTS["plivo"]


class PlivoUnderTest:
    name = "plivo"
    speaks = True
    inbound_chunk_ms = 20
    party_type = PlivoSimCall

    def __init__(self, sim: PlivoSimulator) -> None:
        self.sim = sim

    @classmethod
    async def serve(cls, aiohttp_server: Any) -> PlivoUnderTest:
        sim = PlivoSimulator()
        sim.api_url = str((await aiohttp_server(sim.app)).make_url("/v1"))
        return cls(sim)

    def env(self, bridge_url: str | None) -> dict[str, str]:
        return ACCOUNT.settings(self.sim, bridge_url)

    async def call_in(self, bridge_url: str, from_: str, to: str, **options: Any) -> PlivoSimCall:
        call: PlivoSimCall = await ACCOUNT.call_in(self.sim, bridge_url, from_, to, **options)
        return call

    @staticmethod
    def control(party: PlivoSimCall) -> list[str]:
        words = {"hangup": "hang_up", "cancel": "hang_up", "transfer": "redirect"}
        return [words[update] for update in party.api_updates]

    @staticmethod
    def final_status(party: PlivoSimCall) -> str:
        return STATUS.get(party.status, party.status)

    @staticmethod
    def worded(outcome: str) -> str:
        return WORDS[outcome]

    def signed_status(
        self, url: str, carrier_call_id: str, outcome: str
    ) -> tuple[bytes, dict[str, str]]:
        form = {"CallUUID": carrier_call_id, "CallStatus": WORDS[outcome], "Event": "Hangup"}
        call = self.sim.calls.get(carrier_call_id)
        if call is not None and call.request_uuid is not None:
            form["RequestUUID"] = call.request_uuid  # Plivo names a dial's request in each
        headers = self.sim.signer.headers("POST", url, form)
        return urlencode(form).encode(), headers | {
            "Content-Type": "application/x-www-form-urlencoded"
        }

    async def close(self) -> None:
        await self.sim.close()
