"""`POST /dev/calls` on the dev carrier simulator: the `call` tool places its test call here.

`make run` starts one simulated Twilio beside the bridge, which dials the agent into it. A test
call placed from a second simulator (the `call` tool's own) would leave the caller's leg where the
bridge cannot reach it: its REST updates to that leg (the apology) answer 20404. So the tool
asks this simulator to place the inbound call, and both legs live in one carrier.

The request carries the caller's speech (8 kHz PCM16, base64) and the answer carries each
party's summary and recording, so the tool and the bridge need not share a file system. It is
guarded by the simulator's own account credentials (the printed command carries them).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
from typing import Any

from aiohttp import BasicAuth, web

from bridge.sim.carrier import CarrierSimulator, SimCall
from bridge.sim.carrier_report import call_summary
from bridge.sim.softphone import ANSWER_MODES
from bridge.tasks import cancel_and_wait

PATH = "/dev/calls"
GRACE_S = 30.0  # beyond hangup_after, for ringing, menus and the bridge's teardown
DIALLED_DRAIN_S = 5.0  # how long dialled legs get to end after the caller hung up


def add_routes(app: web.Application, carrier: CarrierSimulator) -> None:
    """Call before the simulator starts serving (aiohttp freezes the router then)."""

    async def handler(request: web.Request) -> web.Response:
        return await _place(request, carrier)

    app.router.add_post(PATH, handler)


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _place(request: web.Request, carrier: CarrierSimulator) -> web.Response:
    try:
        auth = BasicAuth.decode(request.headers.get("Authorization", ""))
    except ValueError:
        auth = None
    if auth is None or (auth.login, auth.password) != (carrier.account_sid, carrier.auth_token):
        return web.json_response(
            {"error": "wrong or missing --account-sid/--auth-token: use the printed command's"},
            status=401,
        )
    try:
        body: dict[str, Any] = await request.json()
        voice_url, from_, to = str(body["voice_url"]), str(body["from"]), str(body["to"])
        audio = base64.b64decode(body.get("audio") or "", validate=True)
        hangup_after = float(body.get("hangup_after", 10.0))
        agent = body.get("agent") or {}
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        return _bad(f"a call needs JSON voice_url, from, to (and base64 audio): {error}")
    if agent.get("answer", "answer") not in ANSWER_MODES:
        return _bad(f"agent answer must be one of {ANSWER_MODES}")
    before = set(carrier.calls)
    default = carrier.default_phone
    if agent and default is not None:
        # Dev only, one test call at a time: the agent's behaviour is the simulator's default.
        carrier.default_phone = dataclasses.replace(
            default,
            answer=agent.get("answer", default.answer),
            hangup_after_s=agent.get("hangup_after", default.hangup_after_s),
        )
    try:
        call = await carrier.place_call(
            from_,
            to,
            voice_url,
            audio=audio,
            hangup_after_s=hangup_after,
            digits=str(body.get("digits", "")),
        )
        timed_out = False
        try:
            async with asyncio.timeout(hangup_after + GRACE_S):
                await call.ended.wait()
        except TimeoutError:
            timed_out = True
        others = [c for sid, c in carrier.calls.items() if sid not in before and c is not call]
        await wait_ended(others, DIALLED_DRAIN_S)
    finally:
        carrier.default_phone = default
    parties = [("caller", call)] + [(f"callee-{i}", c) for i, c in enumerate(others, 1)]
    return web.json_response(
        {
            "timed_out": timed_out,
            "ok": call.stream_started.is_set() and call.status == "completed",
            "parties": [
                {
                    "label": label,
                    "summary": call_summary(c),
                    "wav": base64.b64encode(c.heard_wav()).decode(),
                }
                for label, c in parties
            ],
        }
    )


async def wait_ended(calls: list[SimCall], timeout_s: float) -> None:
    waits = [asyncio.create_task(call.ended.wait()) for call in calls]
    if not waits:
        return
    _, pending = await asyncio.wait(waits, timeout=timeout_s)
    await cancel_and_wait(pending)
