"""Telnyx as the end-to-end tests see it: its simulator, and what its words mean."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from bridge.sim.accounts import ACCOUNTS
from bridge.sim.telnyx import TelnyxSimCall, TelnyxSimulator
from bridge.sim.telnyx_quirks import TelnyxQuirks

ACCOUNT = ACCOUNTS["telnyx"]
# Call setup a Telnyx call goes through before any control a test is about.
SETUP = frozenset({"answer", "streaming_start", "gather_using_speak"})
# A call's outcome as Telnyx words it (the bridge records the carrier's own word).
WORDS = {
    "completed": "call.hangup:normal_clearing",
    "no-answer": "call.hangup:timeout",
    "busy": "call.hangup:user_busy",
    "canceled": "call.hangup:originator_cancel",
}
STATUS = {cause.split(":")[1]: word for word, cause in WORDS.items()}


class TelnyxUnderTest:
    name = "telnyx"
    speaks = True
    inbound_chunk_ms = 20
    party_type = TelnyxSimCall

    def __init__(self, sim: TelnyxSimulator) -> None:
        self.sim = sim

    @classmethod
    async def serve(
        cls, aiohttp_server: Any, quirks: TelnyxQuirks | None = None
    ) -> TelnyxUnderTest:
        sim = TelnyxSimulator(quirks=quirks)
        sim.api_url = str((await aiohttp_server(sim.app)).make_url("/v2"))
        return cls(sim)

    def env(self, bridge_url: str | None) -> dict[str, str]:
        return ACCOUNT.settings(self.sim, bridge_url)

    async def call_in(self, bridge_url: str, from_: str, to: str, **options: Any) -> TelnyxSimCall:
        call: TelnyxSimCall = await ACCOUNT.call_in(self.sim, bridge_url, from_, to, **options)
        return call

    @staticmethod
    def control(party: TelnyxSimCall) -> list[str]:
        done: list[str] = []
        redirecting = False
        for action in party.api_updates:
            if action in SETUP or action == "speak":
                continue  # answering; a greeting, or the words of a redirect
            if action in ("streaming_stop", "transfer"):
                done.append("redirect")
                redirecting = True
            elif action == "hangup":
                if not redirecting:
                    done.append("hang_up")
                redirecting = False  # a redirect's speech ends with this hang-up
        return done

    @staticmethod
    def final_status(party: TelnyxSimCall) -> str:
        return STATUS.get(party.hangup_cause or "", party.hangup_cause or party.status)

    @staticmethod
    def worded(outcome: str) -> str:
        return WORDS[outcome]

    def signed_status(
        self, url: str, carrier_call_id: str, outcome: str
    ) -> tuple[bytes, dict[str, str]]:
        event, _, cause = WORDS[outcome].partition(":")
        payload = {"call_control_id": carrier_call_id, "hangup_cause": cause}
        data = {"record_type": "event", "id": str(uuid.uuid4()), "event_type": event}
        body = json.dumps({"data": data | {"payload": payload}}).encode()
        headers = self.sim.signer.headers(body, int(time.time()))
        return body, {"Content-Type": "application/json"} | headers

    async def close(self) -> None:
        await self.sim.close()
