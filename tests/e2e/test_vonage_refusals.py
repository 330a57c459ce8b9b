"""Nothing but Vonage, for a call this bridge set up, gets in through the Vonage endpoints.

A webhook must carry Vonage's JWT, signed with the account's signature secret, fresh, for our
application and over exactly its body (403 naming VONAGE_SIGNATURE_SECRET otherwise); a media
upgrade must carry the same kind of token (403); a stream that passes that must still bring a
ticket for its call, and for the very Vonage call the ticket was issued for (closed 1008).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable

import aiohttp
import pytest

from bridge.calls.model import Direction, Mode, Role
from bridge.calls.tickets import Ticket, issue
from bridge.carriers.vonage.protocol import VonageCarrierSide
from bridge.carriers.vonage.signature import VonageSigner
from bridge.sim.vonage import VonageSimulator
from tests.e2e.conftest import CENTRE, CUSTOMER, SECRET, Stack, StackFactory, closed_with

POLICY_VIOLATION = 1008
UUID = "63f61863-4a51-4f6b-86e1-46edebcf9356"
EVENT = {"uuid": UUID, "status": "completed", "direction": "outbound"}
Headers = Callable[[VonageSimulator, bytes | None], dict[str, str]]


@pytest.fixture
def carrier_name() -> str:
    return "vonage"


def ticket(call_id: str, carrier_call_id: str | None = None, expires_in: float = 60) -> str:
    plan = Ticket(
        call_id,
        Role.CUSTOMER,
        Direction.INBOUND,
        Mode.BIDIRECTIONAL,
        "de",
        "en",
        int(time.time() + expires_in),
        route=CENTRE,
        carrier_call_id=carrier_call_id,
    )
    return issue(plan, SECRET.encode())


def other_secret(sim: VonageSimulator, body: bytes | None) -> dict[str, str]:
    return VonageSigner("not-the-signature-secret-at-all!", sim.application_id).headers(
        body, time.time()
    )


FORGERIES: list[tuple[Headers, str]] = [
    (other_secret, "signature does not match"),
    (lambda sim, body: sim.signer.headers(body, time.time() - 600), "s ago"),
    (lambda sim, body: sim.signer.headers(body, time.time() + 600), "in the future"),
    (lambda sim, body: {}, "no 'Authorization: Bearer' token"),
    (lambda sim, body: sim.signer.headers(b"{}", time.time()), "payload_hash"),
    (
        lambda sim, body: VonageSigner(sim.signature_secret, "another-app").headers(
            body, time.time()
        ),
        "another application",
    ),
]
IDS = ["other-secret", "stale", "future", "unsigned", "other-body", "other-app"]


@pytest.mark.parametrize(("headers", "reason"), FORGERIES, ids=IDS)
async def test_a_forged_or_stale_vonage_webhook_is_refused_saying_what_to_check(
    make_stack: StackFactory, headers: Headers, reason: str
) -> None:
    stack = await make_stack()
    sim: VonageSimulator = stack.carrier
    body = json.dumps(EVENT).encode()
    answer = {"to": CENTRE[1:], "from": CUSTOMER[1:], "uuid": UUID}
    async with aiohttp.ClientSession() as http:
        for method, url, data in (
            ("POST", stack.url + "/vonage/voice", body),
            ("POST", stack.url + "/vonage/status/call_x/agent", body),
            (
                "GET",
                stack.url + "/vonage/voice?" + "&".join(f"{k}={v}" for k, v in answer.items()),
                None,
            ),
        ):
            sent = headers(sim, data) if reason != "payload_hash" or data else {}
            if reason == "payload_hash" and not data:
                continue  # a GET has no body to misquote
            async with http.request(method, url, data=data, headers=sent) as response:
                assert response.status == 403, (method, url)
                text = await response.text()
                assert reason in text
                assert "VONAGE_SIGNATURE_SECRET" in text
        genuine = sim.signer.headers(body, time.time())
        async with http.post(stack.url + "/vonage/voice", data=body, headers=genuine) as response:
            assert response.status == 204  # the same event, signed: believed (and ignored)
    assert not stack.live_calls()


async def test_a_signed_answer_webhook_is_answered_with_a_signed_stream_ncco(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    query = {"to": CENTRE[1:], "from": CUSTOMER[1:], "uuid": UUID, "conversation_uuid": "CON-1"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            stack.url + "/vonage/voice",
            params=query,
            headers=stack.carrier.signer.headers(None, time.time()),
        ) as response,
    ):
        assert response.status == 200
        ncco = await response.json()
    (endpoint,) = ncco[-1]["endpoint"]
    assert endpoint["authorization"] == {"type": "vonage"}
    assert endpoint["headers"]["call_uuid"] == UUID
    assert endpoint["content-type"] == "audio/l16;rate=8000"


async def open_stream(
    stack: Stack, call_id: str, headers: dict[str, str], authorization: dict[str, str]
) -> tuple[int | None, str]:
    """Connects to our media path as Vonage would; how the bridge closed the socket."""
    url = stack.url.replace("http", "ws") + f"/vonage/media/{call_id}"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=authorization) as ws:
        await ws.send_str(VonageCarrierSide(8000).connected(headers))
        return await closed_with(ws)


@pytest.mark.parametrize(
    "authorization",
    [
        lambda sim: {},
        lambda sim: other_secret(sim, None),
        lambda sim: sim.signer.headers(None, time.time() - 600),
        lambda sim: {"Authorization": "Bearer not-a-jwt"},
    ],
    ids=["none", "other-secret", "stale", "garbage"],
)
async def test_a_media_upgrade_without_vonages_token_is_refused(
    make_stack: StackFactory, authorization: Callable[[VonageSimulator], dict[str, str]]
) -> None:
    stack = await make_stack()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await open_stream(
            stack, "call_abc", {"ticket": ticket("call_abc")}, authorization(stack.carrier)
        )
    assert refused.value.status == 403
    assert not stack.live_calls()


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (lambda: {"ticket": ticket("call_other"), "call_uuid": UUID}, "not call_target"),
        (lambda: {"ticket": ticket("call_target", expires_in=-30), "call_uuid": UUID}, "expired"),
        (lambda: {"call_uuid": UUID}, "no ticket"),
        (lambda: {"ticket": ticket("call_target") + "x", "call_uuid": UUID}, "forged"),
        (
            lambda: {"ticket": ticket("call_target", UUID), "call_uuid": "another-call"},
            "carrier call",
        ),
        (lambda: {"ticket": ticket("call_target", UUID)}, "carrier call"),  # no uuid: unbound
    ],
    ids=["wrong-call", "expired", "missing", "forged", "other-vonage-call", "no-uuid"],
)
async def test_a_signed_stream_without_a_valid_ticket_for_its_call_is_closed(
    make_stack: StackFactory,
    headers: Callable[[], dict[str, str]],
    reason: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack = await make_stack()
    signed = stack.carrier.signer.headers(None, time.time())
    async with asyncio.timeout(10):
        code, _ = await open_stream(stack, "call_target", headers(), signed)
    assert code == POLICY_VIOLATION
    assert not stack.live_calls()
    assert not stack.kallglot.sessions
    assert re.search(rf"media_stream_refused.*{reason}", capsys.readouterr().out)
