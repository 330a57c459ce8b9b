"""Vonage behind the carrier interface (bridge/carriers/interface.py), with the Voice API.

Like Twilio, Vonage runs a document we answer with, here an NCCO (ncco.py), and it ends a call
when the NCCO runs out, so an apology is `talk` alone and closing the media socket of an
inbound call ends it. Unlike Twilio, its media is binary L16 at 8, 16 or 24 kHz
(`VONAGE_SAMPLE_RATE`), every webhook and media handshake is signed with an HS256 JWT under the
account's signature secret (signature.py), and REST calls carry an RS256 JWT of the
application's private key (appjwt.py, rest.py).

Webhooks: the application's answer URL and event URL are `/vonage/voice` (answer by GET or
POST; events by POST, for calls that are not dialled legs: their status matters to nobody);
the menu's input result comes to `/vonage/voice/menu`; a dialled leg's events come to its own
`/vonage/status/{call_id}/{role}`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import structlog
from aiohttp import web

from bridge.carriers.interface import (
    Answer,
    CarrierControl,
    IncomingCall,
    Redirect,
    StreamTarget,
    Webhook,
    WebhookRefused,
)
from bridge.carriers.vonage import events
from bridge.carriers.vonage.config import VonageSettings
from bridge.carriers.vonage.dialled import DialledCalls
from bridge.carriers.vonage.ncco import (
    HeadersTooLarge,
    answer_ncco,
    connect_stream,
    endpoint,
    response_body,
    vonage_number,
)
from bridge.carriers.vonage.protocol import VonageMediaStream
from bridge.carriers.vonage.rest import VonageRest
from bridge.carriers.vonage.signature import VonageSignatures
from bridge.urls import public_http_url

log = structlog.get_logger(__name__)
NAME = "vonage"
VOICE_PATH = f"/{NAME}/voice"
MAX_RINGING_TIMER_S = 120  # Vonage's range for `ringing_timer` is 1-120 s
EVENT_URL = "event_url"  # IncomingCall.context: where the stream's connect reports


class VonageControl:
    def __init__(self, rest: VonageRest, settings: VonageSettings) -> None:
        self.rest = rest
        self._settings = settings
        self.dialled = DialledCalls()

    @property
    def caller_id(self) -> str | None:
        return self._settings.caller_id

    async def dial(
        self, to: str, from_: str, stream: StreamTarget, status_url: str, ring_timeout_s: int
    ) -> str:
        body = {
            "to": [endpoint(to)],
            "from": {"type": "phone", "number": vonage_number(from_)},
            "ncco": [connect_stream(stream, self._settings.sample_rate, status_url, None)],
            "event_url": [status_url],
            "event_method": "POST",
            "ringing_timer": max(1, min(ring_timeout_s, MAX_RINGING_TIMER_S)),
        }
        call_uuid = await self.rest.dial(body, to)
        self.dialled.remember(stream.parameters, call_uuid, time.monotonic())
        return call_uuid

    async def hang_up(self, carrier_call_id: str) -> None:
        await self.rest.hang_up(carrier_call_id)

    async def redirect(self, carrier_call_id: str, to: Redirect) -> None:
        """A transfer to an NCCO of the apology (or the busy message, or a phone): it replaces
        the running one, which ends the stream, and the call ends where it runs out."""
        ncco = answer_ncco(
            to,
            rate=self._settings.sample_rate,
            event_url="",
            caller_id=self._settings.caller_id,
            call_uuid=carrier_call_id,
        )
        body = {"action": "transfer", "destination": {"type": "ncco", "ncco": ncco}}
        await self.rest.modify(carrier_call_id, body, "transfer")

    async def settle(self, timeout_s: float) -> None:
        """Nothing to wait for: an NCCO's talk, then its end, runs at Vonage, not here."""

    async def close(self) -> None:
        await self.rest.close()


class VonageCarrier:
    def __init__(self, settings: VonageSettings) -> None:
        self._settings = settings
        self._signatures = VonageSignatures(
            settings.signature_secret, settings.application_id, settings.webhook_tolerance_s
        )
        self._control = VonageControl(VonageRest(settings), settings)

    @property
    def name(self) -> str:
        return NAME

    @property
    def speaks(self) -> bool:
        return True

    @property
    def control(self) -> CarrierControl:
        return self._control

    def media_stream(self, call_id: str) -> VonageMediaStream:
        return VonageMediaStream(self._control.dialled.take)

    def upgrade_refusal(self, request: web.Request, public_url: str) -> str | None:
        refusal = self._signatures.refusal(request.headers.get("Authorization"), None, time.time())
        if refusal is None:
            return None
        log.warning("media_upgrade_rejected", reason=refusal, path=request.path)
        return (
            f"Vonage media handshake refused: {refusal}. The NCCO asks Vonage to sign it "
            "(authorization type vonage) with the account's signature secret: check "
            "VONAGE_SIGNATURE_SECRET."
        )

    async def read_webhook(self, request: web.Request, public_url: str, kind: str) -> Webhook:
        body = await request.read()
        refusal = self._signatures.refusal(request.headers.get("Authorization"), body, time.time())
        if refusal is not None:
            log.warning("vonage_signature_rejected", path=request.path, reason=refusal)
            raise WebhookRefused(
                403,
                f"Vonage webhook refused: {refusal}. Check that VONAGE_SIGNATURE_SECRET is the "
                "account's signature secret (dashboard, API Settings), that the application "
                "is VONAGE_APPLICATION_ID with signed webhooks on, and that the clocks agree.",
                "vonage_webhook",
            )
        payload = _payload(request, body)
        context = {EVENT_URL: public_http_url(public_url, VOICE_PATH)}
        if kind == "menu":
            return events.menu_result(payload, context)
        if kind == "status":
            call_id, role = request.match_info.get("call_id"), request.match_info.get("role")
            return events.call_event(payload, call_id, role)
        if "status" in payload:  # the application's event URL is the voice URL too
            return events.call_event(payload, None, None)
        return events.incoming(payload, context)

    async def answer(self, call: IncomingCall, answer: Answer) -> web.Response:
        event_url = call.context.get(EVENT_URL)
        try:
            ncco = answer_ncco(
                answer,
                rate=self._settings.sample_rate,
                event_url=event_url if isinstance(event_url, str) else "",
                caller_id=self._settings.caller_id,
                call_uuid=call.carrier_call_id,
            )
        except HeadersTooLarge as exc:
            log.error("vonage_stream_headers_too_large", error=str(exc))
            raise web.HTTPInternalServerError(text=str(exc) + "\n") from None
        return web.Response(text=response_body(ncco), content_type="application/json")


def _payload(request: web.Request, body: bytes) -> dict[str, Any]:
    """A GET's query, or a POST's JSON object (400 otherwise)."""
    if request.method == "GET":
        return dict(request.query)
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        raise WebhookRefused(
            400, "not a Vonage webhook: the body is not a JSON object", "vonage_webhook"
        )
    return payload
