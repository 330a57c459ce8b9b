"""Plivo on the full stack: only Plivo, for a call this bridge set up, gets in.

A webhook without Plivo's V3 signature, a document token the bridge did not make, a media
upgrade without the stream token, and a stream without a valid ticket are each refused, with a
message that says what was wrong, and nothing is dialled or billed.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from urllib.parse import urlencode

import aiohttp
import pytest

from bridge.audio.formats import MULAW_8K
from bridge.calls.model import Direction, Mode, Role
from bridge.calls.tickets import Ticket, issue
from bridge.carriers.plivo import extra_headers
from bridge.carriers.plivo.protocol import PlivoCarrierSide
from bridge.carriers.plivo.signature import NONCE_HEADER, SIGNATURE_HEADER, PlivoSigner
from bridge.carriers.plivo.tokens import stream_token
from tests.e2e.conftest import (
    CENTRE,
    CUSTOMER,
    SECRET,
    Stack,
    StackFactory,
    closed_with,
    metric,
)

pytestmark = pytest.mark.parametrize("carrier_name", ["plivo"])
POLICY_VIOLATION = 1008
FORM = {
    "CallUUID": str(uuid.uuid4()),
    "From": CUSTOMER.lstrip("+"),
    "To": CENTRE.lstrip("+"),
    "Direction": "inbound",
    "CallStatus": "ringing",
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


async def post(url: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
    content = {"Content-Type": "application/x-www-form-urlencoded"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=urlencode(form), headers=headers | content) as response,
    ):
        return response.status, await response.text()


async def test_a_voice_webhook_without_plivos_signature_is_refused(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    url = stack.voice_url
    genuine = stack.carrier.signer.headers("POST", url, FORM)
    forged = PlivoSigner("not-the-token").headers("POST", url, FORM)
    tampered = dict(genuine)
    for headers, reason in (
        ({}, "no X-Plivo-Signature-V3 header"),
        ({SIGNATURE_HEADER: genuine[SIGNATURE_HEADER]}, "no X-Plivo-Signature-V3-Nonce header"),
        (forged, "signature does not match"),
        (tampered | {NONCE_HEADER: "1"}, "signature does not match"),
    ):
        status, text = await post(url, FORM, headers)
        assert status == 403
        assert reason in text
        assert "PLIVO_AUTH_TOKEN" in text
        assert "BRIDGE_PUBLIC_URL" in text
    status, text = await post(url, FORM, genuine)  # the same request, signed: answered
    assert status == 200
    assert "<Stream" in text
    assert metric(stack, "bridge_webhook_verification_failures_total", source="plivo_webhook") == 4
    assert not stack.carrier.calls  # nothing was dialled


async def test_a_document_token_the_bridge_did_not_make_is_refused(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    for query in ("?dial=forged.token", "?redirect=" + "a" * 20):
        url = stack.voice_url + query
        status, text = await post(url, FORM, stack.carrier.signer.headers("POST", url, FORM))
        assert status == 403
        assert "PLIVO_AUTH_TOKEN" in text


async def open_stream(
    stack: Stack, call_id: str, headers: dict[str, str], token: str | None
) -> tuple[int | None, str]:
    url = stack.url.replace("http", "ws") + f"/plivo/media/{call_id}"
    if token is not None:
        url += f"?auth={token}"
    side = PlivoCarrierSide(str(uuid.uuid4()), str(uuid.uuid4()), stack.carrier.auth_id, MULAW_8K)
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as ws:
        await ws.send_str(side.start(headers))
        return await closed_with(ws)


async def test_a_media_upgrade_without_the_stream_token_is_refused(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    call_id = "call_" + "9" * 24
    for token in (None, "", stream_token(stack.carrier.auth_token, "call_" + "8" * 24)):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await open_stream(stack, call_id, {}, token)
        assert refused.value.status == 403
    assert (
        metric(stack, "bridge_webhook_verification_failures_total", source="plivo_media_upgrade")
        == 3
    )


async def test_a_stream_without_a_valid_ticket_is_closed_with_the_reason(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    call_id = "call_" + "7" * 24
    token = stream_token(stack.carrier.auth_token, call_id)
    cases = [
        ({}, "no ticket"),
        ({"ticket": extra_headers.encode_ticket(ticket("call_" + "6" * 24))}, "not call_7"),
        ({"ticket": extra_headers.encode_ticket(ticket(call_id, expires_in=-5))}, "expired"),
        ({"ticket": "Zz" * 20}, "forged"),
    ]
    async with asyncio.timeout(20):
        for headers, reason in cases:
            code, said = await open_stream(stack, call_id, headers, token)
            assert code == POLICY_VIOLATION
            assert reason in said
    assert not stack.live_calls()
    assert not stack.kallglot.sessions
