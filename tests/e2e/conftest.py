"""The whole system on loopback: Kallglot simulator, Twilio simulator and the bridge, all real.

Tests drive calls from the carrier side (simulated phones) and observe only what a party heard,
what the simulators recorded, and what the bridge's API and logs say.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from bridge.audio import codecs
from bridge.audio.formats import Encoding
from bridge.calls.call import Call
from bridge.carriers.twilio import TwilioCarrierSide
from bridge.carriers.twilio.signature import SIGNATURE_HEADER, TwilioSignatures
from bridge.config import Config
from bridge.sim.kallglot import KallglotSimulator
from bridge.sim.outage_proxy import OutageProxy
from bridge.sim.softphone import Phone
from bridge.web.app import create_app
from bridge.web.keys import REGISTRY, SERVICES
from tests.e2e.carriers import Party, Sims
from tests.ports import ReservedPort

CENTRE = "+15550100001"  # the number customers dial
AGENT = "+15550100002"
CUSTOMER = "+15550100003"
SOLO = "+15550100021"  # a one-leg route
ASSIST = "+15550100031"  # assistive translation
MENU = "+15550100041"  # callers pick their language on the keypad
MIXED = "+15550100051"  # the agent is dialled through Twilio, whichever carrier the caller used
BARGE_CLEAR = "+15550100061"  # a listener talking over the translation clears it
BARGE_DUCK = "+15550100071"  # ... or ducks it
CONSOLE = "+15550100081"  # the agent answers in the browser console (agent id "alice")
DUCKED = "+15550100091"  # each party hears the other's own voice under the translation
CONSOLE_DUCKED = "+15550100092"  # ... with the agent in the console
API_TOKEN = "test-api-token-" + "t" * 32
SECRET = "x" * 40

ROUTES = f"""
[routes."{MIXED}"]
agent = "{AGENT}"
agent_carrier = "twilio"
customer_language = "de"
agent_language = "en"

[routes."{CENTRE}"]
agent = "{AGENT}"
customer_language = "de"
agent_language = "en"
apology = "Leider ist niemand erreichbar."

[routes."{SOLO}"]
customer_language = "de"
agent_language = "en"

[routes."{MENU}"]
agent = "{AGENT}"
customer_language = "de"
agent_language = "en"

[routes."{MENU}".menu]
prompt = "Deutsch 1. Francais 2."
1 = "de"
2 = "fr"

[routes."{BARGE_CLEAR}"]
agent = "{AGENT}"
barge_in = "clear"

[routes."{BARGE_DUCK}"]
agent = "{AGENT}"
barge_in = "duck"

[routes."{DUCKED}"]
agent = "{AGENT}"
customer_language = "de"
agent_language = "en"
original_under_translation_db = -18

[routes."{CONSOLE_DUCKED}"]
agent = "browser:alice"
customer_language = "de"
agent_language = "en"
original_under_translation_db = -18

[routes."{CONSOLE}"]
agent = "browser:alice"
customer_language = "de"
agent_language = "en"

[routes."{ASSIST}"]
agent = "{AGENT}"
mode = "assistive_translation"
customer_language = "de"
agent_language = "en"
"""


def mulaw(pcm: bytes) -> bytes:
    return codecs.encode(Encoding.MULAW, pcm)


def received(party: Party) -> bytes:
    """Everything the bridge sent `party`, in order (what it heard, minus carrier-side gaps)."""
    return b"".join(media.payload for media in party.media_received)


def first_heard_at(party: Party, frame: bytes) -> float:
    """perf_counter() when the bridge first sent `party` the 20 ms `frame` (a media message
    may carry several frames: the bridge sends the frames due at one moment together)."""
    size = len(frame)
    return next(
        media.at
        for media in party.media_received
        if any(media.payload[i : i + size] == frame for i in range(0, len(media.payload), size))
    )


async def wait_received(party: Party, audio: bytes) -> None:
    """Until `audio` has reached `party` whole and in order, as one contiguous run."""
    await party.wait_until(lambda: audio in received(party))


async def heard_without_gaps(party: Party, audio: bytes) -> bool:
    """Once the carrier has played `audio` (already received), whether it played it unbroken."""
    end = received(party).index(audio) + len(audio)
    await party.wait_heard(end)
    return audio in bytes(party.heard)


@dataclass
class Stack:
    kallglot: KallglotSimulator
    sims: Sims
    bridge: TestServer
    app: web.Application
    env: dict[str, str] = field(default_factory=dict)
    outage: OutageProxy | None = None  # in front of Kallglot, where the test asked for one
    carrier_name: str = "twilio"  # the carrier calls come in on, unless a test says otherwise

    @property
    def carrier(self) -> Any:
        """The simulator of `carrier_name` (Twilio's `CarrierSimulator` by default)."""
        return self.sims.of(self.carrier_name)

    @property
    def url(self) -> str:
        return str(self.bridge.make_url("")).rstrip("/")

    @property
    def voice_url(self) -> str:
        return self.url + f"/{self.carrier_name}/voice"

    async def call_in(self, from_: str, to: str, **options: Any) -> Party:
        """A party calls our number `to` through the stack's carrier."""
        return await self.sims.call_in(self.carrier_name, self.url, from_, to, **options)

    def live_calls(self) -> list[Call]:
        return self.app[REGISTRY].live()

    async def call_for(self, predicate: Callable[[Call], bool] = lambda _: True) -> Call:
        """The live call the test is about, once the bridge has it."""
        return await self.app[REGISTRY].wait_for(predicate)

    def api_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {API_TOKEN}"}


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
def carrier_name() -> str:
    """The carrier a test's calls come in on; modules that run on every carrier parametrize
    it (`pytestmark = pytest.mark.parametrize("carrier_name", CARRIERS)`)."""
    return "twilio"


@pytest.fixture
async def make_stack(
    aiohttp_server: Any,
    tmp_path: Path,
    carrier_name: str,
) -> AsyncIterator[StackFactory]:
    made: list[Stack] = []

    async def make(
        translation_delay_s: float = 0.1,
        kallglot_options: dict[str, Any] | None = None,
        *,
        outages: bool = False,
        **env_overrides: str,
    ) -> Stack:
        """`outages`: the bridge reaches Kallglot (REST and streams) through an OutageProxy."""
        kallglot = KallglotSimulator(
            translation_delay_s=translation_delay_s, **(kallglot_options or {})
        )
        kallglot_server = await aiohttp_server(kallglot.app())
        kallglot_url = str(kallglot_server.make_url("/v1"))
        proxy = None
        if outages:
            proxy = OutageProxy(kallglot_server.host, kallglot_server.port)
            proxies.append(proxy)
            kallglot_url = f"http://127.0.0.1:{await proxy.start()}/v1"
        sims = await Sims.serve(aiohttp_server)
        routes = tmp_path / "routes.toml"
        routes.write_text(ROUTES)
        reserved = ReservedPort()
        bridge_url = f"http://127.0.0.1:{reserved.port}"
        env = {
            "BRIDGE_PUBLIC_URL": bridge_url,
            "BRIDGE_SECRET": SECRET,
            "BRIDGE_API_TOKEN": API_TOKEN,
            "BRIDGE_ROUTES": str(routes),
            "BRIDGE_RING_TIMEOUT_S": "5",
            "BRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'calls.db'}",
            "KALLGLOT_API_URL": kallglot_url,
            "KALLGLOT_API_KEY": kallglot.api_key,
            "KALLGLOT_RETRY_TOTAL_S": "5",
            "KALLGLOT_RECONNECT_TOTAL_S": "3",
            **sims.env(bridge_url),
            **env_overrides,
        }
        app = create_app(Config.from_env(env))
        bridge = await aiohttp_server(
            app, port=reserved.port, socket_factory=reserved.socket_factory
        )
        stack = Stack(kallglot, sims, bridge, app, env, proxy, carrier_name)
        made.append(stack)
        return stack

    proxies: list[OutageProxy] = []
    yield make
    for stack in made:
        await stack.sims.close()
    for proxy in proxies:
        await proxy.close()


async def bridged_call(
    stack: Stack, number: str = CENTRE, agent_phone: Phone | None = None
) -> tuple[Party, Party, Call]:
    """An inbound call to `number`, once both legs and Kallglot are up (audio flows)."""
    stack.carrier.add_phone(AGENT, agent_phone or Phone(ring_s=0.1))
    known = {call.id for call in stack.live_calls()}
    customer = await stack.call_in(CUSTOMER, number)
    agent = await stack.carrier.next_call(to=AGENT)
    call = await stack.call_for(lambda c: c.id not in known)
    await call.activated.wait()
    return customer, agent, call


async def assert_cleaned_up(stack: Stack, call: Call) -> None:
    """Nothing of `call` is left: its session ended once, none of its tasks still run."""
    await call.ended()
    session_id = call.session.id if call.session else None
    leftovers = [
        task
        for task in asyncio.all_tasks()
        if not task.done()
        and (call.id in task.get_name() or (session_id and session_id in task.get_name()))
    ]
    if leftovers:  # a detach task returns one loop turn after the call ends: give it that
        _, leftovers_set = await asyncio.wait(leftovers, timeout=2)
        assert not leftovers_set, [task.get_name() for task in leftovers_set]
    assert call.id not in {c.id for c in stack.live_calls()}
    if session_id is not None:
        assert stack.kallglot.sessions[session_id].ended_transitions == 1


@asynccontextmanager
async def carrier_socket(
    stack: Stack, call_id: str, parameters: dict[str, str], call_sid: str
) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, TwilioCarrierSide]]:
    """A media socket opened as Twilio would (genuinely signed), started with `parameters`
    for carrier call `call_sid`: a stream the test then drives by hand."""
    url = stack.url.replace("http", "ws") + f"/twilio/media/{call_id}"
    signature = TwilioSignatures(stack.carrier.auth_token).sign(url)
    side = TwilioCarrierSide("MZ" + secrets.token_hex(16), call_sid, stack.carrier.account_sid)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, headers={SIGNATURE_HEADER: signature}) as ws,
    ):
        await ws.send_str(side.connected())
        await ws.send_str(side.start(parameters))
        yield ws, side


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> tuple[int | None, str]:
    """Reads until the bridge closes the socket: its close code and reason."""
    while True:
        msg = await ws.receive()
        if msg.type is aiohttp.WSMsgType.CLOSE:
            return ws.close_code, msg.extra or ""
        if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return ws.close_code, ""


def metric(stack: Stack, name: str, **labels: str) -> float:
    """One sample of the bridge's /metrics, as Prometheus would read it (0 when absent)."""
    text = stack.app[SERVICES].metrics.exposition().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


class Neighbour:
    """A healthy call running beside a faulty one, to prove a fault stays with its own call."""

    def __init__(self, stack: Stack, speech: bytes) -> None:
        self.stack, self.speech = stack, speech

    async def __aenter__(self) -> Neighbour:
        self.customer, self.agent, self.call = await bridged_call(self.stack)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if exc[0] is not None:
            return
        # Still bridged, and audio still flows both ways, whole and in order.
        said = mulaw(self.speech)
        self.customer.speak(self.speech)
        self.agent.speak(self.speech)
        await wait_received(self.agent, said)
        await wait_received(self.customer, said)
        await self.customer.hang_up()
        await assert_cleaned_up(self.stack, self.call)
