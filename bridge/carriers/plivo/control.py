"""Plivo call control behind `CarrierControl`: dial, hang up, redirect (carriers.md §6.1).

A dial gets Plivo's `request_uuid` at once; the call's `CallUUID` comes later (ring and answer
callbacks, the stream's `start`). The bridge knows a dialled leg by the request id throughout
(the stream reports it too, extra_headers.py), so this keeps which call each dial became, as it
learns it, to hang up or redirect the live call: `DELETE Call/{CallUUID}/`, where a dial still
ringing is cancelled with `DELETE Request/{request_uuid}/`. What it learns is per process, as
the call is: the status path and the media path both hash on the call id.

Plivo fetches documents by URL, so a dial's answer and a redirect's apology are put, signed,
into a URL of our voice webhook (tokens.py), and any instance can serve them.
"""

from __future__ import annotations

from collections import OrderedDict
from urllib.parse import urlsplit

import structlog

from bridge.carriers.interface import (
    CarrierError,
    Redirect,
    SayAndHangUp,
    StreamTarget,
)
from bridge.carriers.plivo import extra_headers
from bridge.carriers.plivo.config import PlivoSettings
from bridge.carriers.plivo.rest import PlivoRest
from bridge.carriers.plivo.tokens import sign_document

log = structlog.get_logger(__name__)
NAME = "plivo"
MAX_REMEMBERED = 10_000  # dials whose CallUUID is kept: far more than one process has live
PROBE_REQUEST_ID = "ffffffff-ffff-4fff-bfff-ffffffffffff"  # sizes the headers before a dial


def voice_url(public_url: str) -> str:
    return public_url.rstrip("/") + f"/{NAME}/voice"


class PlivoControl:
    def __init__(self, rest: PlivoRest, settings: PlivoSettings) -> None:
        self.rest = rest
        self._settings = settings
        self._calls: OrderedDict[str, str] = OrderedDict()  # request_uuid -> CallUUID
        self._dials: OrderedDict[str, None] = OrderedDict()  # request_uuids of our dials
        # The bridge's public base, from the URLs the bridge hands us (status URLs, webhooks,
        # upgrades): a redirect needs a URL of ours and the interface passes none.
        self.public_url: str | None = None

    @property
    def caller_id(self) -> str | None:
        return self._settings.caller_id

    def learn(self, request_uuid: str, call_uuid: str) -> None:
        """Dial `request_uuid` became the live call `call_uuid`."""
        if request_uuid and call_uuid and request_uuid != call_uuid:
            self._calls[request_uuid] = call_uuid
            self._calls.move_to_end(request_uuid)
            while len(self._calls) > MAX_REMEMBERED:
                self._calls.popitem(last=False)

    def document_url(self, kind: str, content: dict[str, object]) -> str:
        if self.public_url is None:
            raise CarrierError("no public URL known yet to hand Plivo a document")
        token = sign_document(self._settings.auth_token, {"k": kind} | content)
        return f"{voice_url(self.public_url)}?{kind}={token}"

    async def dial(
        self, to: str, from_: str, stream: StreamTarget, status_url: str, ring_timeout_s: int
    ) -> str:
        parts = urlsplit(status_url)
        self.public_url = f"{parts.scheme}://{parts.netloc}"
        try:  # refused here, with the reason, rather than by Plivo when it fetches the answer
            extra_headers.render(dict(stream.parameters), PROBE_REQUEST_ID)
        except ValueError as exc:
            raise CarrierError(f"cannot dial {to} on Plivo: {exc}") from None
        answer_url = self.document_url("dial", {"u": stream.url, "p": dict(stream.parameters)})
        fields = {
            "from": from_.lstrip("+"),  # Plivo's numbers are digits only
            "to": to.lstrip("+"),
            "answer_url": answer_url,
            "answer_method": "POST",
            "ring_url": status_url,
            "ring_method": "POST",
            "hangup_url": status_url,
            "hangup_method": "POST",
            "ring_timeout": ring_timeout_s,
        }
        request_uuid = await self.rest.dial(fields)
        self._dials[request_uuid] = None
        while len(self._dials) > MAX_REMEMBERED:
            self._dials.popitem(last=False)
        return request_uuid

    async def hang_up(self, carrier_call_id: str) -> None:
        """`carrier_call_id` is a dial's request id or an inbound call's CallUUID."""
        call_uuid = self._calls.get(carrier_call_id)
        if call_uuid is not None:
            await self.rest.hang_up_call(call_uuid)
            return
        if carrier_call_id in self._dials:
            if await self.rest.cancel_request(carrier_call_id):
                return
            call_uuid = self._calls.get(carrier_call_id)  # answered meanwhile?
            if call_uuid is not None:
                await self.rest.hang_up_call(call_uuid)
            return
        if not await self.rest.hang_up_call(carrier_call_id):
            await self.rest.cancel_request(carrier_call_id)  # a dial another process made

    async def redirect(self, carrier_call_id: str, to: Redirect) -> None:
        call_uuid = self._calls.get(carrier_call_id)
        if call_uuid is None and carrier_call_id in self._dials:
            # Still ringing: nobody to say anything to; the dial just ends.
            log.info("plivo_redirect_of_ringing_dial", request_uuid=carrier_call_id)
            await self.hang_up(carrier_call_id)
            return
        if isinstance(to, SayAndHangUp):
            content: dict[str, object] = {"s": [[s.text, s.language, s.voice] for s in to.speech]}
        else:
            content = {"n": to.number}
        url = self.document_url("redirect", content)
        await self.rest.transfer(call_uuid or carrier_call_id, url)

    async def settle(self, timeout_s: float) -> None:
        """Nothing to wait for: Plivo runs <Speak> then <Hangup/> itself."""

    async def close(self) -> None:
        await self.rest.close()
