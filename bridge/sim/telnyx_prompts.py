"""A call's text-to-speech: `speak` and `gather_using_speak`, one after another.

Telnyx answers a command at once and reports its end by webhook; so here a command only
queues its prompt, and one worker per call plays them in order. A prompt takes time in
proportion to its text (short, to keep tests fast), the party "hears" it as a `Said`, and its
end is reported with the command's own `client_state` (the bridge's carrier chains its next step
on that, carrier.py). A gather then waits for keys from the party's keypad. When the call ends
mid-prompt, the prompt's end event still goes out, with status "call_hangup", as Telnyx does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from bridge.sim.softphone import Said
from bridge.sim.telnyx_fields import GatherRequest, SpeakRequest

SECONDS_PER_CHARACTER = 0.005
MAX_PROMPT_S = 1.0


def prompt_s(text: str) -> float:
    return min(len(text) * SECONDS_PER_CHARACTER, MAX_PROMPT_S)


class PromptCall(Protocol):
    """What the prompts need from their call."""

    said: list[Said]
    digits_sent: list[str]
    keypad: asyncio.Queue[str]

    def notify(self) -> None: ...

    def emit(self, event_type: str, extra: dict[str, Any], client_state: str | None) -> None: ...

    def key_pressed(self, digit: str) -> None: ...


Prompt = SpeakRequest | GatherRequest


class Prompts:
    def __init__(self, call: PromptCall) -> None:
        self._call = call
        self._queue: asyncio.Queue[Prompt] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def add(self, prompt: Prompt) -> None:
        self._queue.put_nowait(prompt)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"sim-telnyx-prompts-{id(self)}")

    async def cancel(self) -> None:
        """The call ended: the prompt playing reports "call_hangup"; queued ones vanish."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait([self._task])

    async def _run(self) -> None:
        while True:
            prompt = await self._queue.get()
            if isinstance(prompt, SpeakRequest):
                await self._speak(prompt)
            else:
                await self._gather(prompt)

    def _say(self, request: SpeakRequest) -> None:
        self._call.said.append(Said(request.text, request.language, request.voice))
        self._call.notify()

    async def _speak(self, request: SpeakRequest) -> None:
        call, state = self._call, request.client_state
        call.emit("call.speak.started", {}, state)
        self._say(request)
        try:
            await asyncio.sleep(prompt_s(request.text))
        except asyncio.CancelledError:
            call.emit("call.speak.ended", {"status": "call_hangup"}, state)
            raise
        call.emit("call.speak.ended", {"status": "completed"}, state)

    async def _gather(self, request: GatherRequest) -> None:
        call, state = self._call, request.prompt.client_state
        digits = ""
        try:
            self._say(request.prompt)
            await asyncio.sleep(prompt_s(request.prompt.text))
            digits = await self._keys(request)
        except asyncio.CancelledError:
            call.emit("call.gather.ended", {"digits": digits, "status": "call_hangup"}, state)
            raise
        if digits:
            call.digits_sent.append(digits)
            call.notify()
        if request.minimum_digits <= len(digits) <= request.maximum_digits:
            status = "valid"
        else:
            status = "invalid" if digits else "timeout"
        call.emit("call.gather.ended", {"digits": digits, "status": status}, state)

    async def _keys(self, request: GatherRequest) -> str:
        """Keys until `maximum_digits`, the terminating digit, or a timeout: `timeout_s` for
        the first key, `inter_digit_timeout_s` after each one."""
        digits = ""
        deadline = time.monotonic() + request.timeout_s
        while len(digits) < request.maximum_digits:
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    key = await self._call.keypad.get()
            except TimeoutError:
                break
            self._call.key_pressed(key)
            if key == request.terminating_digit:
                break
            if key in request.valid_digits:
                digits += key
                deadline = time.monotonic() + request.inter_digit_timeout_s
        return digits
