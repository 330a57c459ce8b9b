"""Twilio behind the carrier interface (bridge/carriers/interface.py).

Webhooks are form posts signed with X-Twilio-Signature over the public URL Twilio called
(BRIDGE_PUBLIC_URL, not the address seen behind a proxy); answers are TwiML in the response;
the media upgrade is signed over its public `wss://` URL. Call control goes through the `twilio`
package (rest.py), and a dialled leg runs TwiML that connects its stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import structlog
from aiohttp import web

from bridge.carriers.interface import (
    Answer,
    CallStatus,
    CarrierControl,
    IncomingCall,
    Redirect,
    StatusChanged,
    StreamTarget,
    Webhook,
    WebhookRefused,
)
from bridge.carriers.twilio.config import TwilioSettings
from bridge.carriers.twilio.protocol import TwilioMediaStream
from bridge.carriers.twilio.rest import TwilioRest
from bridge.carriers.twilio.signature import (
    SIGNATURE_HEADER,
    TwilioSignatures,
    public_http_url,
    public_ws_url,
)
from bridge.carriers.twilio.twiml import answer_twiml, connect_stream_twiml

log = structlog.get_logger(__name__)
NAME = "twilio"
STATUSES = {
    "queued": CallStatus.INITIATED,
    "initiated": CallStatus.INITIATED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.ANSWERED,
    "answered": CallStatus.ANSWERED,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
    "canceled": CallStatus.CANCELED,
}


class TwilioControl:
    def __init__(self, rest: TwilioRest, caller_id: str) -> None:
        self._rest = rest
        self._caller_id = caller_id

    @property
    def caller_id(self) -> str | None:
        return self._caller_id

    async def dial(
        self, to: str, from_: str, stream: StreamTarget, status_url: str, ring_timeout_s: int
    ) -> str:
        return await self._rest.create_call(
            to=to,
            from_=from_,
            twiml=connect_stream_twiml(stream.url, stream.parameters),
            status_callback=status_url,
            timeout_s=ring_timeout_s,
        )

    async def hang_up(self, carrier_call_id: str) -> None:
        await self._rest.hangup(carrier_call_id)

    async def redirect(self, carrier_call_id: str, to: Redirect) -> None:
        await self._rest.update_twiml(carrier_call_id, answer_twiml(to))

    async def settle(self, timeout_s: float) -> None:
        """Nothing to wait for: TwiML's <Say> then <Hangup> runs at Twilio, not here."""

    async def close(self) -> None:
        await self._rest.close()


class TwilioCarrier:
    def __init__(self, settings: TwilioSettings) -> None:
        self._signatures = TwilioSignatures(settings.auth_token)
        self._control = TwilioControl(TwilioRest(settings), settings.caller_id)

    @property
    def name(self) -> str:
        return NAME

    @property
    def speaks(self) -> bool:
        return True

    @property
    def control(self) -> CarrierControl:
        return self._control

    def media_stream(self, call_id: str) -> TwilioMediaStream:
        return TwilioMediaStream()

    def upgrade_refusal(self, request: web.Request, public_url: str) -> str | None:
        url = public_ws_url(public_url, request.path)
        if self._signatures.validate_upgrade(url, request.headers.get(SIGNATURE_HEADER)):
            return None
        log.warning("media_upgrade_rejected", reason="bad X-Twilio-Signature", signed_url=url)
        return "X-Twilio-Signature does not match this stream URL"

    async def read_webhook(self, request: web.Request, public_url: str, kind: str) -> Webhook:
        form = await self._verified_form(request, public_url)
        if kind == "status":
            raw = form.get("CallStatus", "")
            return StatusChanged(
                carrier_call_id=form.get("CallSid", ""),
                status=STATUSES.get(raw, CallStatus.UNKNOWN),
                raw=raw,
                call_id=request.match_info.get("call_id"),
                role=request.match_info.get("role"),
            )
        return IncomingCall(
            to=form.get("To", ""),
            carrier_call_id=form.get("CallSid") or None,
            caller=form.get("From"),
            digits=form.get("Digits", "") if kind == "menu" else None,
        )

    async def answer(self, call: IncomingCall, answer: Answer) -> web.Response:
        return web.Response(text=answer_twiml(answer), content_type="text/xml")

    async def _verified_form(self, request: web.Request, public_url: str) -> Mapping[str, str]:
        """The form fields, if Twilio signed them (403 otherwise; 400 without a form)."""
        try:
            form = await request.post()
        except web.HTTPException:
            raise  # 413: over the app's body limit
        except Exception as exc:  # aiohttp raises ValueError, LookupError, RuntimeError and its
            # own HttpProcessingError for bodies it cannot read (charsets, multipart); all are
            # the sender's fault and none may become a 500
            log.warning("twilio_webhook_unreadable", path=request.path, error=str(exc)[:200])
            raise WebhookRefused(
                400,
                f"The body is not a readable form ({str(exc)[:200]}); Twilio sends "
                "application/x-www-form-urlencoded UTF-8.",
                "twilio_webhook",
            ) from None
        url = public_http_url(public_url, request.path_qs)
        params = cast("Mapping[str, str]", form)  # the validator reads repeated fields: getall()
        if not self._signatures.validate_webhook(
            url, params, request.headers.get(SIGNATURE_HEADER)
        ):
            log.warning("twilio_signature_rejected", path=request.path, signed_url=url)
            raise WebhookRefused(
                403,
                "X-Twilio-Signature does not match this request. Check that TWILIO_AUTH_TOKEN is "
                "the account's primary auth token and that BRIDGE_PUBLIC_URL is the URL Twilio "
                "calls.",
                "twilio_webhook",
            )
        return {k: v for k, v in form.items() if isinstance(v, str)}
