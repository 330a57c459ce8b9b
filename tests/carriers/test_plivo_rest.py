"""The Plivo REST client and call control against the simulator over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bridge.carriers.interface import CarrierError, Reply, SayAndHangUp, Speech, StreamTarget
from bridge.carriers.plivo.carrier import PlivoCarrier
from bridge.carriers.plivo.config import PlivoSettings
from bridge.carriers.plivo.control import PlivoControl
from bridge.carriers.plivo.rest import PlivoRest
from bridge.carriers.plivo.signature import NONCE_HEADER, SIGNATURE_HEADER, PlivoSignatures
from bridge.sim.plivo import Phone, PlivoSimulator

AGENT, SLOW, CALLER_ID = "+15550100002", "+15550100005", "+15550100000"
WAIT = '<Response><Speak>Hello</Speak><Wait length="30"/></Response>'


class Receiver:
    """A stand-in for the bridge: answers with `WAIT`, records callbacks and their signatures."""

    def __init__(self, token: str) -> None:
        self.signatures = PlivoSignatures(token)
        self.received: list[tuple[str | None, dict[str, str]]] = []
        self.app = web.Application()
        self.app.router.add_post("/answer", self._answer)
        self.app.router.add_post("/status", self._status)
        self.app.router.add_post("/plivo/voice", self._voice)
        self.carrier: PlivoCarrier | None = None
        self.base = ""

    async def _check(self, request: web.Request) -> dict[str, str]:
        form = {k: str(v) for k, v in (await request.post()).items()}
        refusal = self.signatures.refusal(
            "POST",
            str(request.url),
            form,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(NONCE_HEADER),
        )
        self.received.append((refusal, form))
        return form

    async def _answer(self, request: web.Request) -> web.Response:
        await self._check(request)
        return web.Response(text=WAIT, content_type="application/xml")

    async def _voice(self, request: web.Request) -> web.Response:
        """A dial's answer waits; a redirect is rendered by the Plivo carrier, as the bridge's."""
        if "redirect" in request.query and self.carrier is not None:
            reply = await self.carrier.read_webhook(request, self.base, "voice")
            assert isinstance(reply, Reply)
            return reply.response
        return await self._answer(request)

    async def _status(self, request: web.Request) -> web.Response:
        await self._check(request)
        return web.Response(status=204)


@pytest.fixture
async def plivo(aiohttp_server: Any) -> AsyncIterator[tuple[PlivoSimulator, Receiver, str]]:
    sim = PlivoSimulator()
    sim.api_url = str((await aiohttp_server(sim.app)).make_url("/v1"))
    sim.add_phone(AGENT, Phone(ring_s=0.05))
    sim.add_phone(SLOW, Phone(ring_s=30))
    receiver = Receiver(sim.auth_token)
    base = str((await aiohttp_server(receiver.app)).make_url("")).rstrip("/")
    receiver.carrier, receiver.base = PlivoCarrier(settings(sim)), base
    yield sim, receiver, base
    await sim.close()


def settings(sim: PlivoSimulator, token: str | None = None) -> PlivoSettings:
    return PlivoSettings(sim.auth_id, token or sim.auth_token, CALLER_ID, sim.api_url or "")


def dial_fields(base: str, to: str) -> dict[str, Any]:
    return {
        "from": CALLER_ID,
        "to": to,
        "answer_url": base + "/answer",
        "answer_method": "POST",
        "hangup_url": base + "/status",
        "ring_url": base + "/status",
        "ring_timeout": 20,
    }


async def test_a_dial_rings_answers_and_hangs_up_with_signed_callbacks(
    plivo: tuple[PlivoSimulator, Receiver, str],
) -> None:
    sim, receiver, base = plivo
    rest = PlivoRest(settings(sim))
    async with asyncio.timeout(10):
        request_uuid = await rest.dial(dial_fields(base, AGENT))
        call = await sim.next_call(to=AGENT)
        assert call.request_uuid == request_uuid
        await call.wait_said("Hello")
        assert await rest.hang_up_call(call.sid) is True
        await call.ended.wait()
        assert await rest.hang_up_call(call.sid) is False  # already over: 404, not an error
    await rest.close()
    assert call.api_updates == ["hangup"]
    assert call.statuses == ["ringing", "in-progress", "completed"]
    assert [refusal for refusal, _ in receiver.received] == [None, None, None]
    ring, answer, hangup = (form for _, form in receiver.received)
    assert (ring["CallStatus"], ring["RequestUUID"], ring["CallUUID"]) == (
        "ringing",
        request_uuid,
        call.sid,
    )
    assert answer["CallStatus"] == "in-progress"
    assert (hangup["CallStatus"], hangup["HangupCause"]) == ("completed", "NORMAL_CLEARING")


async def test_control_cancels_a_ringing_dial_and_hangs_up_the_live_call_it_became(
    plivo: tuple[PlivoSimulator, Receiver, str],
) -> None:
    sim, _, base = plivo
    control = PlivoControl(PlivoRest(settings(sim)), settings(sim))
    target = StreamTarget("ws://127.0.0.1:1/plivo/media/call_x", {})
    async with asyncio.timeout(10):
        ringing = await control.dial(SLOW, CALLER_ID, target, base + "/status", 20)
        slow = await sim.next_call(to=SLOW)
        await control.hang_up(ringing)  # by its request id: DELETE Request/
        await slow.ended.wait()
        answered = await control.dial(AGENT, CALLER_ID, target, base + "/status", 20)
        agent = await sim.next_call(to=AGENT)
        await agent.answered.wait()
        control.learn(answered, agent.sid)  # as the ring callback or the stream's start tells it
        await control.redirect(answered, SayAndHangUp((Speech("Sorry"),)))
        await agent.wait_said("Sorry")
        await agent.ended.wait()
        await control.hang_up(answered)  # over already: success
    await control.close()
    assert (slow.api_updates, slow.status) == (["cancel"], "cancel")
    assert agent.api_updates == ["transfer"]


async def test_plivo_refusing_the_credentials_says_which_settings_to_check(
    plivo: tuple[PlivoSimulator, Receiver, str],
) -> None:
    sim, _, base = plivo
    rest = PlivoRest(settings(sim, "wrong-token"))
    with pytest.raises(
        CarrierError, match=r"HTTP 401.*PLIVO_AUTH_ID and PLIVO_AUTH_TOKEN"
    ) as raised:
        await rest.dial(dial_fields(base, AGENT))
    await rest.close()
    assert raised.value.status == 401
    assert not sim.calls


async def test_a_5xx_is_retried_but_a_dial_is_not_repeated_once_it_may_have_landed(
    aiohttp_server: Any,
) -> None:
    seen: list[str] = []

    async def flaky(request: web.Request) -> web.Response:
        seen.append(request.method)
        if len(seen) in (1, 2):
            return web.json_response({"error": "try later"}, status=500)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_route("*", "/v1/Account/{id}/{path:.*}", flaky)
    url = str((await aiohttp_server(app)).make_url("/v1"))
    config = PlivoSettings("MAXXXXXXXXXXXXXXXXX1", "t", CALLER_ID, url)
    rest = PlivoRest(config, backoff_s=(0.0, 0.0, 0.0))
    assert await rest.hang_up_call("c1") is True  # two 500s, then 204
    seen.clear()
    with pytest.raises(CarrierError, match="HTTP 500"):
        await rest.dial({"to": AGENT})
    await rest.close()
    assert seen == ["POST"]  # the 500 may have created the call: not dialled again
