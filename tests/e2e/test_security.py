"""Nothing but the carrier, for a call this bridge set up, gets in: each forgery is refused."""

from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import pytest

from bridge.calls.model import Direction, Mode, Role
from bridge.calls.tickets import Ticket, issue
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
