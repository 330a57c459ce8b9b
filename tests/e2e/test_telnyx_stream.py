"""A Telnyx media stream driven by hand: what only Telnyx sends reaches the right place."""

from __future__ import annotations

import asyncio
import time

import aiohttp
from structlog.testing import capture_logs

from bridge.calls.model import Direction, Mode, Role
from bridge.calls.tickets import Ticket, issue
from bridge.carriers.telnyx.protocol import TelnyxCarrierSide
from bridge.carriers.telnyx.signature import STREAM_TOKEN_HEADER, stream_token
from tests.e2e.conftest import SECRET, SOLO, StackFactory, closed_with


async def test_an_error_frame_from_telnyx_is_logged_and_the_call_goes_on(
    make_stack: StackFactory,
) -> None:
    stack = await make_stack()
    call_id, ccid = "call_telnyx_warning", "v3:hand-made"
    ticket = Ticket(
        call_id,
        Role.CUSTOMER,
        Direction.INBOUND,
        Mode.BIDIRECTIONAL,
        "de",
        "en",
        int(time.time() + 60),
        route=SOLO,
        carrier_call_id=ccid,
        customer_carrier="telnyx",
        agent_carrier="telnyx",
    )
    path = f"/telnyx/media/{call_id}"
    headers = {STREAM_TOKEN_HEADER: stream_token(stack.sims.telnyx.api_key, path)}
    side = TelnyxCarrierSide("stream-1", ccid)
    with capture_logs() as logs:
        async with (
            asyncio.timeout(20),
            aiohttp.ClientSession() as http,
            http.ws_connect(stack.url.replace("http", "ws") + path, headers=headers) as ws,
        ):
            await ws.send_str(side.connected())
            await ws.send_str(side.start({"ticket": issue(ticket, SECRET.encode())}))
            call = await stack.call_for(lambda c: c.id == call_id)
            await call.activated.wait()
            await ws.send_str(side.error("100005", "rate_limit_reached", "Too many requests"))
            await ws.send_str(side.media(b"\xff" * 160))
            await ws.send_str(side.stop())
            await closed_with(ws)
            await call.ended()

    (warning,) = [e for e in logs if e["event"] == "carrier_warning"]
    assert (warning["call_id"], warning["code"]) == (call_id, "100005")
    assert "Too many requests" in warning["detail"]
    assert call.legs[Role.CUSTOMER].connection is not None
    assert call.legs[Role.CUSTOMER].connection.frames_in == 1  # the call went on after it
