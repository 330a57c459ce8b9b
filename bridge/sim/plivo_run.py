"""Runs Plivo XML for one simulated call, element by element, the way Plivo does.

A document ends the call when it runs out (or at `<Hangup/>`); `<Redirect>` and a
`<GetDigits>` that got keys replace the document with the one their URL returns (a GetDigits
without keys goes on to the next element); a `<Stream keepCallAlive="true">` holds the
document until the socket closes, then it continues. A transfer over REST cancels the running
document and runs the one at its URL (see `PlivoSimCall.api_transfer`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from bridge.sim.plivo_xml import (
    Dial,
    GetDigits,
    Hangup,
    Redirect,
    Refused,
    Speak,
    Stream,
    Unsupported,
    Wait,
)
from bridge.sim.softphone import Said

if TYPE_CHECKING:
    from bridge.sim.plivo_call import PlivoSimCall

MAX_DOCUMENTS = 50
XML_WARNING = 4040  # the simulator's code (Plivo documents none): an element it refused


async def run_call(call: PlivoSimCall, url: str | None, method: str) -> None:
    """The call's documents from `url` on, and any a transfer puts in their place."""
    documents = 0
    next_url: tuple[str, str, dict[str, str]] | None = (url, method, {}) if url else None
    while next_url is not None:
        task = asyncio.create_task(_run_from(call, next_url, documents))
        call.set_runner(task)
        try:
            documents = await task
            next_url = None
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the call itself is ending
            transfer = call.take_transfer()
            next_url = (transfer, "POST", {}) if transfer else None
        finally:
            call.set_runner(None)


async def _run_from(
    call: PlivoSimCall, start: tuple[str, str, dict[str, str]], documents: int
) -> int:
    current: tuple[str, str, dict[str, str]] | None = start
    while current is not None:
        documents += 1
        if documents > MAX_DOCUMENTS:
            call.warn(XML_WARNING, f"more than {MAX_DOCUMENTS} documents; hanging up")
            return documents
        current = await _run_document(call, *current)
    return documents


def _say(call: PlivoSimCall, speak: Speak) -> None:
    call.said.append(Said(speak.text, speak.language, speak.voice))
    call.notify()


async def _run_document(
    call: PlivoSimCall, url: str, method: str, extra: dict[str, str]
) -> tuple[str, str, dict[str, str]] | None:
    elements = await call.fetch(url, method, extra)
    if elements is None:
        return None  # Plivo hangs up on an answer it cannot use
    for element in elements:
        if isinstance(element, Speak):
            _say(call, element)
        elif isinstance(element, Wait):
            await asyncio.sleep(element.length_s)
        elif isinstance(element, Stream):
            if element.keep_call_alive:
                await call.run_stream(element)
            else:  # Plivo runs the next element at once, and a bridge's next one ends it
                call.warn(XML_WARNING, "<Stream> without keepCallAlive: the call moves on")
        elif isinstance(element, Refused):
            call.warn(XML_WARNING, element.reason)
        elif isinstance(element, GetDigits):
            digits = await _get_digits(call, element)
            if digits:
                action = urljoin(url, element.action) if element.action else url
                return action, element.method, {"Digits": digits}
        elif isinstance(element, Redirect):
            return urljoin(url, element.url), element.method, {}
        elif isinstance(element, Dial):
            call.transfers.extend(element.numbers)
            return None  # our leg is bridged elsewhere; the rest is not simulated
        elif isinstance(element, Hangup):
            return None
        elif isinstance(element, Unsupported):
            call.warn(XML_WARNING, f"<{element.tag}> is not simulated; skipped")
    return None


async def _get_digits(call: PlivoSimCall, element: GetDigits) -> str:
    for prompt in element.prompts:
        _say(call, prompt)
    digits = ""
    while len(digits) < element.num_digits:
        try:
            async with asyncio.timeout(element.timeout_s):
                key = await call.keypad.get()
        except TimeoutError:
            break
        if key == element.finish_on_key:
            break
        digits += key
    if digits:
        call.digits_sent.append(digits)
        call.notify()
    return digits
