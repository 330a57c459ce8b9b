"""Running an NCCO as Vonage does, action after action, for one simulated call.

`talk` is heard by the party (a `Said`, taking time in proportion to its text); `input` waits
for keys from the party's keypad and posts the result to its event URL, whose answer, if it is
an NCCO, replaces the rest; `connect` to a websocket runs the media stream until it closes,
then posts `disconnected` to the connect's event URL (with `eventType: synchronous`, an NCCO in
the answer replaces the rest); `connect` to a phone hands the call over (not simulated further).
When the NCCO runs out, the call is over (carriers.md §5). The runner is cancelled when the
call ends, or when a REST transfer replaces the NCCO (the stream then closes from our side).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp

from bridge.sim.carrier_stream import StreamSession
from bridge.sim.softphone import Said
from bridge.sim.softphone_record import Recording
from bridge.sim.vonage_events import Events, iso_now
from bridge.sim.vonage_http import VonageHttp
from bridge.sim.vonage_ncco import (
    INVALID_NCCO,
    Action,
    ConnectPhone,
    ConnectSocket,
    Input,
    NccoError,
    Talk,
    parse_ncco_text,
)
from bridge.sim.vonage_stream import VonageMediaSide

SECONDS_PER_CHARACTER = 0.005
MAX_TALK_S = 1.0
HANDSHAKE_FAILED = 6  # not a Vonage code: the simulator's warning for a refused media socket


def talk_s(text: str) -> float:
    return min(len(text) * SECONDS_PER_CHARACTER, MAX_TALK_S)


class RunningCall(Protocol):
    """What the runner needs from its call (a `Recording` too)."""

    sid: str
    conversation_uuid: str
    direction: str
    from_: str
    to: str
    keypad: asyncio.Queue[str]
    transfers: list[str]
    stream_rates: list[int]
    session: StreamSession | None
    http: VonageHttp
    events: Events
    clock_ppm: Callable[[], float]

    def next_frame(self) -> bytes: ...

    def key_pressed(self, digit: str) -> None: ...


class NccoRunner:
    def __init__(self, call: RunningCall, record: Recording) -> None:
        self._call, self._record = call, record

    async def run(self, actions: list[Action]) -> None:
        """Runs `actions` (and whatever replaces them) to the end of the NCCO."""
        while actions:
            replacement = await self._run_until_replaced(actions)
            actions = replacement or []

    async def _run_until_replaced(self, actions: list[Action]) -> list[Action] | None:
        for action in actions:
            if isinstance(action, Talk):
                self._record.said.append(Said(action.text, action.language))
                self._record.notify()
                await asyncio.sleep(talk_s(action.text))
            elif isinstance(action, Input):
                replacement = await self._input(action)
                if replacement is not None:
                    return replacement
            elif isinstance(action, ConnectSocket):
                replacement = await self._stream(action)
                if replacement is not None:
                    return replacement
            else:
                assert isinstance(action, ConnectPhone)
                self._call.transfers.append("+" + action.number)
                self._record.notify()
                return None  # the call is someone else's now: ours ends here
        return None

    def _payload(self, **extra: Any) -> dict[str, Any]:
        call = self._call
        return {
            "uuid": call.sid,
            "conversation_uuid": call.conversation_uuid,
            "from": call.from_.removeprefix("+"),
            "to": call.to.removeprefix("+"),
            "timestamp": iso_now(),
        } | extra

    async def _input(self, action: Input) -> list[Action] | None:
        digits = await self._keys(action)
        if digits:
            self._record.digits_sent.append(digits)
            self._record.notify()
        dtmf = {"digits": digits, "timed_out": not digits}
        status, body = await self._call.events.send_now(action.event_url, self._payload(dtmf=dtmf))
        return self._ncco_in(status, body, "the input result")

    async def _keys(self, action: Input) -> str:
        digits = ""
        while len(digits) < action.max_digits:
            try:
                async with asyncio.timeout(action.timeout_s):
                    key = await self._call.keypad.get()
            except TimeoutError:
                break
            self._call.key_pressed(key)
            digits += key
        return digits

    async def _stream(self, action: ConnectSocket) -> list[Action] | None:
        call, record = self._call, self._record
        leg = str(uuid.uuid4())  # Vonage's websocket leg, which its connect events are about
        try:
            ws = await call.http.ws_connect(action.uri, action.authorization)
        except aiohttp.WSServerHandshakeError as error:
            record.warn(HANDSHAKE_FAILED, f"websocket handshake got HTTP {error.status}")
            return await self._connect_event(action, leg, "failed")
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            record.warn(HANDSHAKE_FAILED, f"websocket connection failed: {type(error).__name__}")
            return await self._connect_event(action, leg, "failed")
        call.stream_rates.append(action.rate)
        side = VonageMediaSide("vonage-" + leg, action.rate, call.next_frame)
        session = StreamSession(record, ws, side, side.line, None, call.clock_ppm())
        call.session = session
        try:
            await session.run(dict(action.headers))
        finally:
            call.session = None
        return await self._connect_event(action, leg, "disconnected")

    async def _connect_event(
        self, action: ConnectSocket, leg: str, status: str
    ) -> list[Action] | None:
        if action.event_url is None:
            return None
        payload = self._payload(status=status, direction="outbound") | {"uuid": leg}
        payload["conversation_uuid"] = self._call.conversation_uuid
        answer = await self._call.events.send_now(action.event_url, payload)
        return self._ncco_in(*answer, f"the {status} event") if action.synchronous else None

    def _ncco_in(self, status: int | None, body: str, what: str) -> list[Action] | None:
        """The NCCO an answer carries, if it carries one (else the NCCO goes on)."""
        if status is None or not 200 <= status < 300 or not body.strip():
            return None
        try:
            parsed = json.loads(body)
        except ValueError:
            return None
        if not isinstance(parsed, list):
            return None
        try:
            return parse_ncco_text(body)
        except NccoError as error:
            self._record.warn(INVALID_NCCO, f"NCCO in the answer to {what} refused: {error}")
            return None
