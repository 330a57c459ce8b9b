"""Runs TwiML for one simulated call, verb by verb, the way Twilio does.

A document ends the call when it runs out (or at `<Hangup/>`); `<Redirect>` and a `<Gather>`
that got digits replace the document with the one their URL returns; `<Connect><Stream>`
blocks until the bridge closes the socket and then the document continues. Hang-ups and REST
updates cancel the runner from outside (see `SimCall`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from bridge.sim.softphone import Said
from bridge.sim.twiml_parse import (
    Connect,
    Gather,
    Hangup,
    Pause,
    Redirect,
    Say,
    Unsupported,
    Verb,
)

if TYPE_CHECKING:
    from bridge.sim.carrier_call import SimCall

APPLICATION_ERROR = "We are sorry, an application error has occurred. Goodbye."
MAX_DOCUMENTS = 50  # Twilio stops redirect loops too; ours would otherwise spin forever
UNSUPPORTED_VERB = 12200  # Twilio's "schema validation warning"


@dataclass(frozen=True, slots=True)
class Document:
    """TwiML to run: given inline (`verbs`), or to be fetched from `url` with `params` added."""

    url: str | None
    method: str = "POST"
    verbs: tuple[Verb, ...] | None = None
    params: dict[str, str] = field(default_factory=dict)


class TwimlRunner:
    def __init__(self, call: SimCall) -> None:
        self._call = call
        self._documents = 0

    async def run(self, document: Document | None) -> None:
        while document is not None:
            document = await self._run_document(document)

    async def _run_document(self, document: Document) -> Document | None:
        call = self._call
        self._documents += 1
        if self._documents > MAX_DOCUMENTS:
            call.warn(UNSUPPORTED_VERB, f"more than {MAX_DOCUMENTS} TwiML documents; hanging up")
            return None
        verbs = document.verbs
        if verbs is None and document.url is not None:
            verbs = await call.fetch_twiml(document.url, document.method, document.params)
        if verbs is None:  # Twilio's answer to a webhook it could not use
            self._say(Said(APPLICATION_ERROR, "en-US"))
            return None
        base = document.url
        for verb in verbs:
            if isinstance(verb, Say):
                self._say(Said(verb.text, verb.language, verb.voice))
            elif isinstance(verb, Pause):
                await asyncio.sleep(verb.length_s)
            elif isinstance(verb, Connect):
                await call.run_stream(verb.stream)
            elif isinstance(verb, Gather):
                following = await self._gather(verb, base)
                if following is not None:
                    return following
            elif isinstance(verb, Redirect):
                return Document(self._resolve(base, verb.url), verb.method)
            elif isinstance(verb, Hangup):
                return None
            elif isinstance(verb, Unsupported):
                call.warn(UNSUPPORTED_VERB, f"<{verb.tag}> is not simulated; skipped")
        return None

    def _say(self, said: Said) -> None:
        self._call.said.append(said)
        self._call.notify()

    @staticmethod
    def _resolve(base: str | None, url: str) -> str:
        return urljoin(base, url) if base else url

    async def _gather(self, gather: Gather, base: str | None) -> Document | None:
        """Prompts, then the party's keys; the action's TwiML if any key was pressed."""
        call = self._call
        for prompt in gather.prompts:
            if isinstance(prompt, Say):
                self._say(Said(prompt.text, prompt.language, prompt.voice))
            else:
                await asyncio.sleep(prompt.length_s)
        digits = ""
        while gather.num_digits is None or len(digits) < gather.num_digits:
            try:
                async with asyncio.timeout(gather.timeout_s):
                    key = await call.keypad.get()
            except TimeoutError:
                break
            if key == gather.finish_on_key:
                break
            digits += key
        if not digits:
            return None  # Twilio moves on to the verb after <Gather>
        call.digits_sent.append(digits)
        call.notify()
        action = self._resolve(base, gather.action) if gather.action else base
        if action is None:
            call.warn(UNSUPPORTED_VERB, "<Gather> without action in inline TwiML; digits dropped")
            return None
        return Document(action, gather.method, params={"Digits": digits})
