"""Both carriers' simulators for one test, and what the end-to-end tests say the same way of each.

Every bridge a test starts has a Twilio and a Telnyx account (both simulated), so a scenario
runs on either carrier by name, and one call may span both (a Telnyx customer, a Twilio agent).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bridge.carriers.twilio.signature import SIGNATURE_HEADER, TwilioSignatures
from bridge.sim.carrier import CarrierSimulator, SimCall
from bridge.sim.telnyx import TelnyxSimCall, TelnyxSimulator
from bridge.sim.telnyx_quirks import TelnyxQuirks

CARRIERS = ("twilio", "telnyx")
CALLER_ID = "+15550100000"
Party = SimCall | TelnyxSimCall
# Call setup a Telnyx call goes through before any control a test is about.
TELNYX_SETUP = frozenset({"answer", "streaming_start", "gather_using_speak"})


@dataclass
class Sims:
    twilio: CarrierSimulator
    telnyx: TelnyxSimulator

    @classmethod
    async def serve(cls, aiohttp_server: Any, telnyx_quirks: TelnyxQuirks | None = None) -> Sims:
        twilio = CarrierSimulator()
        twilio.api_url = str((await aiohttp_server(twilio.app)).make_url("")).rstrip("/")
        telnyx = TelnyxSimulator(quirks=telnyx_quirks)
        telnyx.api_url = str((await aiohttp_server(telnyx.app)).make_url("/v2"))
        return cls(twilio, telnyx)

    def env(self, bridge_url: str | None) -> dict[str, str]:
        """A bridge's carrier settings; the Telnyx application's webhook is pointed at it
        (None: left where it points, e.g. at the first of several instances)."""
        if bridge_url is not None:
            self.telnyx.webhook_url = bridge_url + "/telnyx/voice"
        return {
            "TWILIO_ACCOUNT_SID": self.twilio.account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio.auth_token,
            "TWILIO_CALLER_ID": CALLER_ID,
            "TWILIO_API_URL": self.twilio.api_url or "",
            "TELNYX_API_KEY": self.telnyx.api_key,
            "TELNYX_PUBLIC_KEY": self.telnyx.public_key,
            "TELNYX_CONNECTION_ID": self.telnyx.connection_id,
            "TELNYX_CALLER_ID": CALLER_ID,
            "TELNYX_API_URL": self.telnyx.api_url or "",
        }

    def of(self, carrier: str) -> Any:
        return self.twilio if carrier == "twilio" else self.telnyx

    async def call_in(
        self, carrier: str, bridge_url: str, from_: str, to: str, **options: Any
    ) -> Party:
        """A party calls our number `to` through `carrier`."""
        if carrier == "twilio":
            return await self.twilio.place_call(from_, to, bridge_url + "/twilio/voice", **options)
        return await self.telnyx.place_call(from_, to, **options)

    async def close(self) -> None:
        await self.twilio.close()
        await self.telnyx.close()


def control(party: Party) -> list[str]:
    """What the bridge did to `party`'s call over its carrier's REST API, in neutral words:
    "hang_up", or "redirect" (an apology or the busy message, then the end of the call)."""
    if isinstance(party, SimCall):
        words = {"Status=completed": "hang_up", "Status=canceled": "hang_up"}
        return [words.get(update, "redirect") for update in party.api_updates]
    done: list[str] = []
    redirecting = False
    for action in party.api_updates:
        if action in TELNYX_SETUP or action == "speak":
            continue  # answering; a greeting, or the words of a redirect
        if action in ("streaming_stop", "transfer"):
            done.append("redirect")
            redirecting = True
        elif action == "hangup":
            if not redirecting:
                done.append("hang_up")
            redirecting = False  # a redirect's speech ends with this hang-up
    return done


# A call's outcome as each carrier words it (the bridge records the carrier's own word).
TELNYX_WORDS = {
    "completed": "call.hangup:normal_clearing",
    "no-answer": "call.hangup:timeout",
    "busy": "call.hangup:user_busy",
    "canceled": "call.hangup:originator_cancel",
}
TELNYX_STATUS = {cause.split(":")[1]: word for word, cause in TELNYX_WORDS.items()}


def worded(carrier: str, outcome: str) -> str:
    """`outcome` (Twilio's word: "no-answer", "busy", ...) as `carrier` reports it."""
    return outcome if carrier == "twilio" else TELNYX_WORDS[outcome]


def final_status(party: Party) -> str:
    """How the party's call ended, in Twilio's words for either carrier."""
    if isinstance(party, SimCall):
        return party.status
    return TELNYX_STATUS.get(party.hangup_cause or "", party.hangup_cause or party.status)


def signed_status(
    sims: Sims, carrier: str, url: str, carrier_call_id: str, outcome: str
) -> tuple[bytes, dict[str, str]]:
    """A status webhook for `carrier_call_id` ending with `outcome` (Twilio's word), signed as
    the carrier signs it: the body and headers to POST to `url`."""
    if carrier == "twilio":
        form = {
            "CallSid": carrier_call_id,
            "CallStatus": outcome,
            "AccountSid": sims.twilio.account_sid,
        }
        signature = TwilioSignatures(sims.twilio.auth_token).sign(url, form)
        headers = {SIGNATURE_HEADER: signature, "Content-Type": "application/x-www-form-urlencoded"}
        return urlencode(form).encode(), headers
    event, _, cause = TELNYX_WORDS[outcome].partition(":")
    payload = {"call_control_id": carrier_call_id, "hangup_cause": cause}
    body = json.dumps(
        {
            "data": {
                "record_type": "event",
                "id": str(uuid.uuid4()),
                "event_type": event,
                "payload": payload,
            }
        }
    ).encode()
    return body, {"Content-Type": "application/json"} | sims.telnyx.signer.headers(
        body, int(time.time())
    )
