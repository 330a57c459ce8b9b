"""Nothing but the carrier, for a call this bridge set up, gets in: each forgery is refused."""

from __future__ import annotations

import asyncio
import json
import re
import time

import aiohttp
import pytest

from bridge.calls.model import Direction, Mode, Role
from bridge.calls.tickets import Ticket, issue
from bridge.carriers.telnyx.signature import STREAM_TOKEN_HEADER, TelnyxSigner, stream_token
from bridge.carriers.twilio import TwilioCarrierSide
from bridge.carriers.twilio.signature import SIGNATURE_HEADER, TwilioSignatures
from tests.e2e.conftest import CENTRE, CUSTOMER, SECRET, Stack, StackFactory

POLICY_VIOLATION = 1008
VOICE_FORM = {
    "CallSid": "CA" + "a" * 32,
    "AccountSid": "AC" + "b" * 32,
    "From": CUSTOMER,
    "To": CENTRE,
}


def ticket(call_id: str, expires_in: float = 60) -> str:
    plan = Ticket(
        call_id,
        Role.CUSTOMER,
        Direction.INBOUND,
        Mode.BIDIRECTIONAL,
        "de",
        "en",
        int(time.time() + expires_in),
        route=CENTRE,
    )
    return issue(plan, SECRET.encode())


async def open_stream(
    stack: Stack, call_id: str, parameters: dict[str, str], token: str | None = None
) -> int | None:
    """Connects like Twilio would; returns how the bridge closed the socket."""
    url = stack.url.replace("http", "ws") + f"/twilio/media/{call_id}"
    signature = TwilioSignatures(token or stack.carrier.auth_token).sign(url)
    side = TwilioCarrierSide("MZ" + "2" * 32, "CA" + "3" * 32, stack.carrier.account_sid)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url, headers={SIGNATURE_HEADER: signature}) as ws,
    ):
        await ws.send_str(side.connected())
        await ws.send_str(side.start(parameters))
        async for _ in ws:
            pass
        return ws.close_code


async def test_voice_webhook_with_a_forged_signature_is_refused(make_stack: StackFactory) -> None:
    stack = await make_stack()
    signer = TwilioSignatures(stack.carrier.auth_token)
    async with aiohttp.ClientSession() as http:
        genuine = signer.sign(stack.env["BRIDGE_PUBLIC_URL"] + "/twilio/voice", VOICE_FORM)
        async with http.post(
            stack.voice_url, data=VOICE_FORM, headers={SIGNATURE_HEADER: genuine}
        ) as response:
            assert response.status == 200
            assert "<Stream" in await response.text()
        forgeries = [
            TwilioSignatures("not-the-token").sign(
                stack.env["BRIDGE_PUBLIC_URL"] + "/twilio/voice", VOICE_FORM
            ),
            signer.sign(
                stack.env["BRIDGE_PUBLIC_URL"] + "/twilio/voice",
                {**VOICE_FORM, "To": "+15550199999"},
            ),
            signer.sign("https://elsewhere.example/twilio/voice", VOICE_FORM),
        ]
        for signature in [*forgeries, None]:
            headers = {SIGNATURE_HEADER: signature} if signature else {}
            async with http.post(stack.voice_url, data=VOICE_FORM, headers=headers) as response:
                assert response.status == 403
                assert "TWILIO_AUTH_TOKEN" in await response.text()
        status_url = stack.url + "/twilio/status/call_x/agent"
        async with http.post(
            status_url,
            data={"CallSid": "CA1", "CallStatus": "completed"},
            headers={SIGNATURE_HEADER: forgeries[0]},
        ) as response:
            assert response.status == 403


async def test_media_upgrade_with_a_forged_signature_is_refused(make_stack: StackFactory) -> None:
    stack = await make_stack()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await open_stream(stack, "call_abc", {"ticket": ticket("call_abc")}, token="not-the-token")
    assert refused.value.status == 403
    assert not stack.live_calls()


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        (lambda: {"ticket": ticket("call_other")}, "not call_target"),
        (lambda: {"ticket": ticket("call_target", expires_in=-30)}, "expired"),
        (lambda: {}, "no ticket"),
        (lambda: {"ticket": ticket("call_target") + "x"}, "forged"),
    ],
    ids=["wrong-call", "expired", "missing", "forged"],
)
async def test_media_stream_without_a_valid_ticket_for_its_call_is_closed(
    make_stack: StackFactory, parameters, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = await make_stack()
    async with asyncio.timeout(10):
        code = await open_stream(stack, "call_target", parameters())
    assert code == POLICY_VIOLATION
    assert not stack.live_calls()
    assert not stack.kallglot.sessions
    logged = capsys.readouterr().out
    assert re.search(rf"media_stream_refused.*{reason}", logged)


def telnyx_event(event_type: str, to: str = CENTRE) -> bytes:
    payload = {"call_control_id": "v3:forged", "direction": "incoming", "from": CUSTOMER, "to": to}
    data = {"record_type": "event", "id": "evt-1", "event_type": event_type, "payload": payload}
    return json.dumps({"data": data}).encode()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (
            lambda sim, body: TelnyxSigner.generate().headers(body, int(time.time())),
            "does not match",
        ),
        (lambda sim, body: sim.signer.headers(body, int(time.time()) - 600), "s old"),
        (lambda sim, body: sim.signer.headers(body, int(time.time()) + 600), "in the future"),
        (lambda sim, body: {}, "no signature header"),
        (
            lambda sim, body: sim.signer.headers(body + b" ", int(time.time())),
            "does not match",
        ),
    ],
    ids=["other-key", "stale", "future", "unsigned", "body-changed"],
)
async def test_a_forged_or_stale_telnyx_webhook_is_refused_and_answers_nobody(
    make_stack: StackFactory, headers, reason: str
) -> None:
    stack = await make_stack()
    body = telnyx_event("call.initiated")
    async with aiohttp.ClientSession() as http:
        async with http.post(
            stack.url + "/telnyx/voice", data=body, headers=headers(stack.sims.telnyx, body)
        ) as response:
            assert response.status == 403
            text = await response.text()
        genuine = stack.sims.telnyx.signer.headers(body, int(time.time()))
        async with http.post(stack.url + "/telnyx/voice", data=body, headers=genuine) as answered:
            assert answered.status == 200  # the same event, signed: believed (and answered)
    assert reason in text
    assert "TELNYX_PUBLIC_KEY" in text
    assert not stack.live_calls()


@pytest.mark.parametrize(
    "token",
    [None, "not-the-token", stream_token("KEYwrong", "/telnyx/media/call_abc")],
    ids=["none", "garbage", "other-secret"],
)
async def test_a_telnyx_media_upgrade_without_its_token_is_refused(
    make_stack: StackFactory, token: str | None
) -> None:
    stack = await make_stack()
    url = stack.url.replace("http", "ws") + "/telnyx/media/call_abc"
    headers = {STREAM_TOKEN_HEADER: token} if token else {}
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, headers=headers)
        # The token made for another call's path does not open this one either.
        other = stream_token(stack.sims.telnyx.api_key, "/telnyx/media/call_other")
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(url, headers={STREAM_TOKEN_HEADER: other})
    assert refused.value.status == 403
    assert not stack.live_calls()
