"""Every carrier's simulator for one test, and what the end-to-end tests say the same way of each.

Every bridge a test starts has an account with each carrier (all simulated), so a scenario runs
on any carrier by name, and one call may span two (a Telnyx customer, a Twilio agent). What
differs per carrier (its simulator, its settings, its words for a call's outcome, how it signs a
status webhook, how a hang-up looks in its REST log) is one `CarrierUnderTest` per carrier, in
tests/e2e/carrier_<name>.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bridge.sim.accounts import CALLER_ID
from bridge.sim.carrier import CarrierSimulator, SimCall
from bridge.sim.exotel import ExotelSimCall
from bridge.sim.plivo import PlivoSimCall
from bridge.sim.telnyx import TelnyxSimCall, TelnyxSimulator
from bridge.sim.telnyx_quirks import TelnyxQuirks
from bridge.sim.vonage import VonageSimCall
from tests.e2e.carrier_exotel import ExotelUnderTest
from tests.e2e.carrier_plivo import PlivoUnderTest
from tests.e2e.carrier_telnyx import TelnyxUnderTest
from tests.e2e.carrier_twilio import TwilioUnderTest
from tests.e2e.carrier_vonage import VonageUnderTest

Party = SimCall | TelnyxSimCall | ExotelSimCall | PlivoSimCall | VonageSimCall


class CarrierUnderTest(Protocol):
    name: str
    speaks: bool  # reads text out: greetings, the language menu, apologies
    inbound_chunk_ms: int  # how much of a party's voice one of its media messages carries
    party_type: type  # its simulator's calls

    @property
    def sim(self) -> Any: ...

    def env(self, bridge_url: str | None) -> dict[str, str]:
        """A bridge's settings for this carrier's (simulated) account; webhooks the carrier
        sends to one fixed URL are pointed at `bridge_url` (None: left where they point)."""

    async def call_in(self, bridge_url: str, from_: str, to: str, **options: Any) -> Any:
        """A party calls our number `to` (`audio`, `hangup_after_s`, `digits` as options)."""

    @staticmethod
    def control(party: Any) -> list[str]:
        """What the bridge did to `party`'s call over the carrier's REST API, in neutral words:
        "hang_up", or "redirect" (an apology or the busy message, then the end of the call)."""

    @staticmethod
    def final_status(party: Any) -> str:
        """How the party's call ended, in Twilio's words ("completed", "busy", ...)."""

    @staticmethod
    def worded(outcome: str) -> str:
        """`outcome` (Twilio's word) as this carrier reports it: what the bridge records."""

    def signed_status(
        self, url: str, carrier_call_id: str, outcome: str
    ) -> tuple[bytes, dict[str, str]]:
        """A status webhook for `carrier_call_id` ending with `outcome` (Twilio's word), signed
        as the carrier signs it: the body and headers to POST to `url`."""

    async def close(self) -> None: ...


# Each carrier's `CarrierUnderTest`, by name: every scenario runs on each.
ADAPTERS: dict[str, Any] = {
    "twilio": TwilioUnderTest,
    "telnyx": TelnyxUnderTest,
    "exotel": ExotelUnderTest,
    "plivo": PlivoUnderTest,
    "vonage": VonageUnderTest,
}
CARRIERS = tuple(ADAPTERS)


@dataclass
class Sims:
    carriers: dict[str, CarrierUnderTest]

    @classmethod
    async def serve(cls, aiohttp_server: Any, telnyx_quirks: TelnyxQuirks | None = None) -> Sims:
        carriers: dict[str, CarrierUnderTest] = {}
        for name, adapter in ADAPTERS.items():
            options = {"quirks": telnyx_quirks} if name == "telnyx" else {}
            carriers[name] = await adapter.serve(aiohttp_server, **options)
        return cls(carriers)

    @property
    def twilio(self) -> CarrierSimulator:
        sim: CarrierSimulator = self.carriers["twilio"].sim
        return sim

    @property
    def telnyx(self) -> TelnyxSimulator:
        sim: TelnyxSimulator = self.carriers["telnyx"].sim
        return sim

    def env(self, bridge_url: str | None) -> dict[str, str]:
        """A bridge's settings for every carrier (see `CarrierUnderTest.env`)."""
        env: dict[str, str] = {}
        for carrier in self.carriers.values():
            env |= carrier.env(bridge_url)
        return env

    def of(self, carrier: str) -> Any:
        return self.carriers[carrier].sim

    async def call_in(
        self, carrier: str, bridge_url: str, from_: str, to: str, **options: Any
    ) -> Party:
        """A party calls our number `to` through `carrier`."""
        party: Party = await self.carriers[carrier].call_in(bridge_url, from_, to, **options)
        return party

    def signed_status(
        self, carrier: str, url: str, carrier_call_id: str, outcome: str
    ) -> tuple[bytes, dict[str, str]]:
        return self.carriers[carrier].signed_status(url, carrier_call_id, outcome)

    async def close(self) -> None:
        for carrier in self.carriers.values():
            await carrier.close()


def _under_test(party: Any) -> Any:
    for adapter in ADAPTERS.values():
        if isinstance(party, adapter.party_type):
            return adapter
    raise TypeError(f"no carrier under test has parties of type {type(party).__name__}")


def control(party: Party) -> list[str]:
    """What the bridge did to `party`'s call over its carrier's REST API, in neutral words:
    "hang_up", or "redirect" (an apology or the busy message, then the end of the call)."""
    words: list[str] = _under_test(party).control(party)
    return words


def final_status(party: Party) -> str:
    """How the party's call ended, in Twilio's words for any carrier."""
    status: str = _under_test(party).final_status(party)
    return status


def worded(carrier: str, outcome: str) -> str:
    """`outcome` (Twilio's word: "no-answer", "busy", ...) as `carrier` reports it."""
    word: str = ADAPTERS[carrier].worded(outcome)
    return word


def apology(carrier: str) -> list[str]:
    """The control an apology (or the busy message) takes on `carrier`: a redirect to it, or,
    on a carrier that cannot say it (Exotel), the hang-up alone."""
    return ["redirect"] if ADAPTERS[carrier].speaks else ["hang_up"]


def speaks(carrier: str) -> bool:
    return bool(ADAPTERS[carrier].speaks)


def chunk_lag_s(carrier: str) -> float:
    """How much later than in 20 ms frames a party's voice may reach the bridge on
    `carrier`, for arriving in larger chunks (Exotel: up to 80 ms)."""
    return (int(ADAPTERS[carrier].inbound_chunk_ms) - 20) / 1000


def signed_status(
    sims: Sims, carrier: str, url: str, carrier_call_id: str, outcome: str
) -> tuple[bytes, dict[str, str]]:
    return sims.signed_status(carrier, url, carrier_call_id, outcome)


__all__ = ["CALLER_ID", "CARRIERS", "CarrierUnderTest", "Party", "Sims"]
