"""A hostile peer on media sockets: each bad socket closes alone, with its reason logged, while a
normal call beside it keeps its audio flowing byte for byte.

The hostile sockets get past the upgrade check (a genuine X-Twilio-Signature, as if a carrier bug
or a leaked auth token were behind them) and then send hypothesis-generated garbage: frames
before `start`, binary frames, non-JSON, damaged `start`/`media`/`mark`/`dtmf` frames, non-base64
and oversized payloads, frames over the 64 KiB message limit, a second `start`. Some first start
properly, with a genuine ticket for a call of their own, so the garbage reaches a live call.

Each socket's fate is predicted by feeding the same frames to a local `TwilioMediaStream` (the
parser the bridge uses) and the ticket check: the bridge must close with exactly that reason
(1008, policy violation; 1000 after a `stop`; 1009 for a frame over the size limit) and log it.
No exception may reach the event loop.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from hypothesis import Phase, given, settings

from bridge.calls.model import Direction, EndReason, Mode, Role
from bridge.calls.tickets import Ticket, TicketError, issue, verify
from bridge.carriers.base import ProtocolViolation, Started, Stopped
from bridge.carriers.twilio import TwilioCarrierSide, TwilioMediaStream
from bridge.carriers.twilio.signature import SIGNATURE_HEADER, TwilioSignatures
from bridge.web.keys import REGISTRY
from bridge.web.media import MAX_MESSAGE_BYTES, POLICY_VIOLATION
from tests.e2e.conftest import (
    SECRET,
    SOLO,
    Stack,
    StackFactory,
    assert_cleaned_up,
    bridged_call,
    mulaw,
    wait_received,
)
from tests.fuzz.genome import Genome, frame
from tests.fuzz.strategies import genomes
from tests.fuzz.test_twilio_media_stream import INBOUND, KNOWN_KEYS, VOCABULARY

HOSTILE_SOCKETS = 120
AT_ONCE = 8
SECOND = 16_000  # bytes of 8 kHz PCM16
NORMAL_CLOSURE = 1000
INVALID_TEXT = 1007  # a text frame that is not UTF-8 (a lone surrogate in it)
MESSAGE_TOO_BIG = 1009


def generated_genomes(n: int) -> list[bytes]:
    """`n` genomes from hypothesis, derandomized: the same sockets on every run."""
    found: list[bytes] = []

    @settings(
        max_examples=n, derandomize=True, database=None, deadline=None, phases=[Phase.generate]
    )
    @given(genomes)
    def collect(genome: bytes) -> None:
        found.append(genome)

    collect()
    return found


def ticket(call_id: str) -> str:
    plan = Ticket(
        call_id,
        Role.CUSTOMER,
        Direction.INBOUND,
        Mode.BIDIRECTIONAL,
        "de",
        "en",
        int(time.time() + 120),
        route=SOLO,  # a one-leg route: nobody is dialled for these calls
    )
    return issue(plan, SECRET.encode())


@dataclass
class Hostile:
    call_id: str
    frames: list[str | bytes]
    expected_code: int
    expected_reason: str
    starts_a_call: bool
    close_code: int | None = None
    close_reason: str = ""
    sent: int = 0
    log: list[str] = field(default_factory=list)

    def describe(self) -> str:
        shown = [f[:120] for f in self.frames[: self.sent + 1]]
        return f"{self.call_id}: sent {shown!r}"


def script(index: int, genome: bytes) -> Hostile:
    """The frames one hostile socket sends, and how the bridge must answer them."""
    g = Genome(genome)
    call_id = f"call_hostile_{index:03d}"
    side = TwilioCarrierSide("MZ" + f"{index:032x}", "CA" + f"{index:032x}", "AC" + "e" * 32)
    frames: list[str | bytes] = []
    opening = g.below(4)
    if opening:  # a proper start first: with a ticket for this call, or for another one
        frames.append(side.connected())
        frames.append(side.start({"ticket": ticket(call_id if opening < 3 else "call_other")}))
    own = [{**m, "streamSid": side.stream_sid} if "streamSid" in m else m for m in INBOUND.values()]
    for _ in range(1 + g.below(4)):
        kind = g.below(10)
        if kind == 0:  # over the message size limit
            frames.append(json.dumps({"event": "media", "pad": "A" * (MAX_MESSAGE_BYTES + 10)}))
        elif kind == 1:  # a payload far over the per-frame limit, yet under the message limit
            frames.append(side.media(bytes(30_000)))
        else:
            frames.append(frame(g, own, VOCABULARY, KNOWN_KEYS))
    frames.append(b"\x00")  # a binary frame: fatal whatever came before, so the socket must end
    code, reason, starts = predict(frames, call_id)
    return Hostile(call_id, frames, code, reason, starts)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def predict(frames: list[str | bytes], call_id: str) -> tuple[int, str, bool]:
    """(close code, reason, whether a call starts) as the bridge must decide them."""
    mirror = TwilioMediaStream()
    started = False
    for sent in frames:
        size = len(sent) if isinstance(sent, bytes) else len(sent.encode("utf-8", "surrogatepass"))
        if size > MAX_MESSAGE_BYTES:
            return MESSAGE_TOO_BIG, "", started
        if isinstance(sent, str) and not _is_utf8(sent):
            return INVALID_TEXT, "", started
        try:
            event = mirror.parse(sent)
        except ProtocolViolation as exc:
            return POLICY_VIOLATION, exc.reason, started
        if isinstance(event, Started) and not started:
            try:
                verify(
                    event.custom_parameters.get("ticket"),
                    SECRET.encode(),
                    call_id=call_id,
                    now=time.time(),
                )
            except TicketError as exc:
                return POLICY_VIOLATION, str(exc), False
            started = True
        elif isinstance(event, Stopped) and started:
            return NORMAL_CLOSURE, "carrier sent stop", True
    raise AssertionError("unreachable: the last frame is binary")


async def attack(stack: Stack, http: aiohttp.ClientSession, hostile: Hostile) -> None:
    url = stack.url.replace("http", "ws") + f"/twilio/media/{hostile.call_id}"
    signature = TwilioSignatures(stack.carrier.auth_token).sign(url)
    async with http.ws_connect(url, headers={SIGNATURE_HEADER: signature}, autoclose=False) as ws:
        for sent in hostile.frames:
            if ws.closed:
                break
            try:
                if isinstance(sent, bytes):
                    await ws.send_bytes(sent)
                else:  # as a text frame even when it is not valid UTF-8
                    await ws.send_frame(sent.encode("utf-8", "surrogatepass"), WSMsgType.TEXT)
            except (ConnectionError, RuntimeError):  # the bridge closed first: fine
                break
            hostile.sent += 1
        async with asyncio.timeout(10):
            while True:
                message = await ws.receive()
                if message.type is WSMsgType.CLOSE:
                    hostile.close_code, hostile.close_reason = message.data, message.extra or ""
                    await ws.close()
                    return
                if message.type in (WSMsgType.CLOSED, WSMsgType.ERROR):
                    hostile.close_code = ws.close_code
                    return


async def storm(stack: Stack, hostiles: list[Hostile]) -> None:
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(hostile: Hostile) -> None:
        async with gate:
            await attack(stack, http, hostile)

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(h) for h in hostiles))


def logged_lines(captured: str, call_id: str) -> list[str]:
    return [line for line in captured.splitlines() if call_id in line]


async def test_hostile_media_sockets_close_alone_and_a_normal_call_keeps_flowing(
    make_stack: StackFactory,
    customer_speech: bytes,
    agent_speech: bytes,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    reached_the_loop: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: reached_the_loop.append(context))
    caplog.set_level(logging.ERROR)
    hostiles = [script(i, genome) for i, genome in enumerate(generated_genomes(HOSTILE_SOCKETS))]
    said_by_customer = customer_speech[: 3 * SECOND]
    said_by_agent = agent_speech[: 3 * SECOND]
    try:
        stack = await make_stack()
        async with asyncio.timeout(60):
            customer, agent, call = await bridged_call(stack)
            customer.speak(said_by_customer)
            agent.speak(said_by_agent)
            await storm(stack, hostiles)
            await wait_received(agent, mulaw(said_by_customer))
            await wait_received(customer, mulaw(said_by_agent))
            assert call.ended_at is None
            assert call.end_reason is None
            assert [c.id for c in stack.live_calls()] == [call.id]  # every hostile call is gone
            await customer.hang_up()
            await assert_cleaned_up(stack, call)
        gc.collect()  # a task that died unobserved reports itself when collected
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous_handler)

    assert call.end_reason is EndReason.CUSTOMER_HANGUP
    assert not reached_the_loop, reached_the_loop
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    captured = capsys.readouterr()
    logs = captured.out + captured.err
    for hostile in hostiles:
        where = hostile.describe()
        assert hostile.close_code == hostile.expected_code, (hostile.close_code, where)
        lines = logged_lines(logs, hostile.call_id)
        if hostile.expected_code == POLICY_VIOLATION:
            assert hostile.close_reason == hostile.expected_reason[:120], where
            event = "media_protocol_violation" if hostile.starts_a_call else "media_stream_refused"
            assert any(
                event in line and _mentions(line, hostile.expected_reason) for line in lines
            ), (
                where,
                lines,
            )
        else:  # 1009, 1007: aiohttp closed it; the bridge's own words are pinned by an xfail
            assert lines, where
        if hostile.starts_a_call:
            assert any("call_ended" in line or "leg_gone" in line for line in lines), where
    kinds = {(h.expected_code, h.starts_a_call) for h in hostiles}
    assert {(POLICY_VIOLATION, False), (POLICY_VIOLATION, True), (MESSAGE_TOO_BIG, True)} <= kinds


def _mentions(line: str, reason: str) -> bool:
    return reason in line or repr(reason) in line or json.dumps(reason) in line


async def test_a_frame_over_the_size_limit_is_logged_as_such_and_ends_the_call_as_a_violation(
    make_stack: StackFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = await make_stack()
    hostile = Hostile(
        "call_too_big",
        [
            TwilioCarrierSide("MZ" + "7" * 32, "CA" + "7" * 32, "AC" + "7" * 32).connected(),
            TwilioCarrierSide("MZ" + "7" * 32, "CA" + "7" * 32, "AC" + "7" * 32).start(
                {"ticket": ticket("call_too_big")}
            ),
            json.dumps({"event": "media", "pad": "A" * (MAX_MESSAGE_BYTES + 10)}),
        ],
        MESSAGE_TOO_BIG,
        "",
        True,
    )
    async with asyncio.timeout(10), aiohttp.ClientSession() as http:
        await attack(stack, http, hostile)
        call = stack.app[REGISTRY].get("call_too_big")
        if call is not None:
            await call.ended()
    assert hostile.close_code == MESSAGE_TOO_BIG
    (summary,) = [s for s in stack.app[REGISTRY].recent() if s.call_id == "call_too_big"]
    lines = logged_lines(capsys.readouterr().out, "call_too_big")
    assert any("exceeds" in line or "too big" in line for line in lines), lines
    assert summary.end_reason == EndReason.PROTOCOL_ERROR
