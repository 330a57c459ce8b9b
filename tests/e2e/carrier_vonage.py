"""Vonage as the end-to-end tests see it: its simulator, and what its words mean.

The bridge's stream runs at 8 kHz here (VONAGE_SAMPLE_RATE, 16 kHz by default), so the shared
scenarios' byte-for-byte comparisons of mu-law hold; tests/e2e/test_vonage_wideband.py runs a
call at 16 kHz.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from bridge.sim.accounts import ACCOUNTS
from bridge.sim.vonage import VonageSimCall, VonageSimulator

# A call's outcome as Vonage words it (the bridge records the carrier's own word).
WORDS = {
    "completed": "completed",
    "no-answer": "timeout",
    "busy": "busy",
    "canceled": "cancelled",
    "failed": "failed",
}
STATUS = {word: outcome for outcome, word in WORDS.items()} | {"unanswered": "no-answer"}
CONTROL = {"hangup": "hang_up", "transfer": "redirect"}


ACCOUNT = ACCOUNTS["vonage"]


class VonageUnderTest:
    name = "vonage"
    speaks = True
    inbound_chunk_ms = 20
    party_type = VonageSimCall

    def __init__(self, sim: VonageSimulator) -> None:
        self.sim = sim

    @classmethod
    async def serve(cls, aiohttp_server: Any) -> VonageUnderTest:
        sim = VonageSimulator()
        sim.api_url = str((await aiohttp_server(sim.app)).make_url("")).rstrip("/")
        return cls(sim)

    def env(self, bridge_url: str | None) -> dict[str, str]:
        return ACCOUNT.settings(self.sim, bridge_url)

    async def call_in(self, bridge_url: str, from_: str, to: str, **options: Any) -> VonageSimCall:
        call: VonageSimCall = await ACCOUNT.call_in(self.sim, bridge_url, from_, to, **options)
        return call

    @staticmethod
    def control(party: VonageSimCall) -> list[str]:
        return [CONTROL[action] for action in party.api_updates]

    @staticmethod
    def final_status(party: VonageSimCall) -> str:
        return STATUS.get(party.status, party.status)

    @staticmethod
    def worded(outcome: str) -> str:
        return WORDS[outcome]

    def signed_status(
        self, url: str, carrier_call_id: str, outcome: str
    ) -> tuple[bytes, dict[str, str]]:
        payload = {
            "uuid": carrier_call_id,
            "conversation_uuid": "CON-" + str(uuid.uuid4()),
            "status": WORDS[outcome],
            "direction": "outbound",
            "timestamp": "2026-01-01T00:00:00.000Z",
        }
        body = json.dumps(payload).encode()
        headers = self.sim.signer.headers(body, time.time())
        return body, {"Content-Type": "application/json"} | headers

    async def close(self) -> None:
        await self.sim.close()
