"""Twilio, as far as the bridge can tell, for the load benchmark: webhooks, media, REST.

A call goes exactly as with Twilio: a signed voice webhook, TwiML with a signed ticket, a media
socket upgraded with a valid X-Twilio-Signature, `connected` and `start`, then frames. The bridge
dials the agent through the REST API; this module answers that API itself (a few lines instead
of the full carrier simulator, whose per-call machinery would cost the generator's core more
than the calls it drives) and connects the agent's media socket with the ticket from the TwiML.
"""

from __future__ import annotations

import asyncio
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from bench.loadgen import Leg, Pacer, Probe, connect
from bridge.carriers.twilio import SIGNATURE_HEADER, TwilioCarrierSide, TwilioSignatures

CENTRE = "+15550100001"  # the number customers dial (routes.toml maps it to AGENT)
AGENT = "+15550100002"
CUSTOMER = "+15550100003"
ROUTES_TOML = f"""
[routes."{CENTRE}"]
agent = "{AGENT}"
customer_language = "de"
agent_language = "en"
"""


def sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def stream_of(twiml: str) -> tuple[str, str]:
    """The media URL and the ticket in `<Connect><Stream>` TwiML."""
    stream = ET.fromstring(twiml).find("./Connect/Stream")
    if stream is None:
        raise ValueError(f"no <Connect><Stream> in {twiml[:200]!r}")
    ticket = next(
        (p.get("value", "") for p in stream.findall("Parameter") if p.get("name") == "ticket"), ""
    )
    return stream.get("url", ""), ticket


@dataclass(eq=False)
class GenCall:
    call_id: str
    customer: Leg | None = None
    agent: Leg | None = None

    def pair(self) -> None:
        """Each leg hears the other's speech, translated: the partner is where frames return."""
        if self.customer is not None and self.agent is not None:
            self.customer.partner, self.agent.partner = self.agent, self.customer


class TwilioFace:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        probe: Probe,
        pacer: Pacer,
        bridge_url: str,
        account_sid: str,
        auth_token: str,
    ) -> None:
        self.http = http
        self.probe = probe
        self.pacer = pacer
        self.bridge_url = bridge_url
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_url = ""  # where this face's REST API is served (TWILIO_API_URL)
        self.signatures = TwilioSignatures(auth_token)
        self.calls: dict[str, GenCall] = {}
        self.errors: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the REST API the bridge dials through ---------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        base = "/2010-04-01/Accounts/{account}/Calls"
        app.router.add_post(base + ".json", self._create)
        app.router.add_post(base + "/{sid}.json", self._update)
        return app

    async def _create(self, request: web.Request) -> web.Response:
        form = await request.post()
        url, ticket = stream_of(str(form.get("Twiml", "")))
        call = self.calls.get(url.rsplit("/", 1)[-1])
        call_sid = sid("CA")
        if call is None:
            return web.json_response({"code": 21205, "message": "unknown call"}, status=400)
        self._spawn(self._answer(call, url, ticket, call_sid))
        return web.json_response(
            self._resource(call_sid, str(form.get("To")), "queued"), status=201
        )

    async def _update(self, request: web.Request) -> web.Response:
        form = await request.post()
        status = str(form.get("Status", "in-progress"))
        return web.json_response(self._resource(request.match_info["sid"], "", status))

    def _resource(self, call_sid: str, to: str, status: str) -> dict[str, str]:
        return {"sid": call_sid, "account_sid": self.account_sid, "to": to, "status": status}

    async def _answer(self, call: GenCall, url: str, ticket: str, call_sid: str) -> None:
        call.agent = await self._open(call, "agent", url, ticket, call_sid)
        call.pair()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(repr(task.exception()))

    # -- calls -------------------------------------------------------------------------------

    async def place_call(self) -> None:
        """An inbound call to CENTRE: webhook, TwiML, customer media socket (agent follows)."""
        call_sid = sid("CA")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": call_sid,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "From": CUSTOMER,
            "To": CENTRE,
        }
        url = self.bridge_url + "/twilio/voice"
        headers = {SIGNATURE_HEADER: self.signatures.sign(url, params)}
        async with self.http.post(url, data=params, headers=headers) as response:
            response.raise_for_status()
            media_url, ticket = stream_of(await response.text())
        call_id = media_url.rsplit("/", 1)[-1]
        call = self.calls[call_id] = GenCall(call_id)
        call.customer = await self._open(call, "customer", media_url, ticket, call_sid)
        call.pair()

    async def _open(self, call: GenCall, role: str, url: str, ticket: str, call_sid: str) -> Leg:
        side = TwilioCarrierSide(sid("MZ"), call_sid, self.account_sid)
        leg = self.probe.new_leg(role, side)
        await connect(leg, self.probe, url, {SIGNATURE_HEADER: self.signatures.sign(url)})
        assert leg.ws is not None
        leg.ws.send_text(side.connected())
        leg.ws.send_text(side.start({"ticket": ticket}))
        leg.build()
        self.pacer.add(leg)
        return leg

    async def hang_up_all(self, timeout_s: float = 15.0) -> None:
        """The customers hang up (`stop`, then close); the bridge releases the agents."""
        customers = [c.customer for c in self.calls.values() if c.customer is not None]
        for leg in customers:
            leg.closed = True
            if leg.ws is not None:
                leg.ws.send_text(leg.side.stop())
        await asyncio.gather(*(leg.ws.close() for leg in customers if leg.ws is not None))
        await asyncio.gather(*self._tasks, return_exceptions=True)
        agents = [c.agent.ws for c in self.calls.values() if c.agent and c.agent.ws]
        if agents:  # the bridge closes these itself once it has hung up
            await asyncio.wait([ws.done for ws in agents], timeout=timeout_s)
        await asyncio.gather(*(ws.close(timeout_s=1.0) for ws in agents))
