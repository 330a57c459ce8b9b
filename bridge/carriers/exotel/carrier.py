"""Exotel behind the carrier interface (bridge/carriers/interface.py), with the Voicebot applet.

The operator's flow is a Voicebot applet whose URL is our dynamic endpoint
`https://<user>:<password>@<host>/exotel/voice`, then a Hangup applet. Exotel GETs that URL for
each call and connects the media stream to the `wss://` URL we answer with (JSON `{"url": ...}`);
when the stream closes, the flow moves on to the Hangup. So:
- Exotel cannot read text out (`speaks` is False): no menu, no greeting, no apology. An answer
  that would need speech (not in service, busy) or a transfer is refused with HTTP 422, which
  the applet treats as failure: the flow's failure branch (a Hangup, or a Greeting the operator
  recorded) runs instead.
- There is no REST hang-up and no way to change a live call: hanging up is closing the leg's
  media socket (the bridge does that right after `hang_up`, and the Hangup applet ends the call);
  a dial still ringing rings until its `TimeOut`, and if it is answered after all, its flow is
  refused a stream (422) so that it hangs up. `redirect` can only let the stream close.
- A dialled party's flow fetches the same URL; the `CustomField` our dial set carries its stream
  target, sealed (auth.py), and `read_webhook` answers it by itself (`Reply`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import structlog
from aiohttp import web

from bridge.carriers.exotel.auth import (
    AUTHORIZATION,
    basic_refusal,
    seal,
    stream_url,
    unseal,
    with_userinfo,
)
from bridge.carriers.exotel.config import ExotelSettings
from bridge.carriers.exotel.protocol import ExotelMediaStream
from bridge.carriers.exotel.rest import ExotelRest, flow_url
from bridge.carriers.interface import (
    Answer,
    CallStatus,
    CarrierControl,
    ConnectStream,
    Ignored,
    IncomingCall,
    Redirect,
    Reply,
    StatusChanged,
    StreamTarget,
    Webhook,
    WebhookRefused,
)

log = structlog.get_logger(__name__)
NAME = "exotel"
STATUSES = {
    "queued": CallStatus.INITIATED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.ANSWERED,
    "answered": CallStatus.ANSWERED,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
    "canceled": CallStatus.CANCELED,
}
RELEASED_FOR_S = 3600.0  # longer than any dial rings
UNRENDERABLE = 422  # the Voicebot applet's failure branch runs (README, "Exotel")
CREDENTIALS_HINT = (
    "Check that the Voicebot applet's URL and the bridge's callback URLs carry "
    "EXOTEL_WEBHOOK_USER and EXOTEL_WEBHOOK_PASSWORD as https://<user>:<password>@<host>/..."
)


class ExotelControl:
    def __init__(self, rest: ExotelRest, settings: ExotelSettings) -> None:
        self._rest = rest
        self._settings = settings
        # CallSid -> when the bridge let it go: a dial that rings on can still be answered,
        # and its flow must then be turned away instead of handed a stream (read_webhook).
        self._released: dict[str, float] = {}

    def released(self, call_sid: str) -> bool:
        """Whether the bridge hung this call up (here, within the last RELEASED_FOR_S)."""
        now = time.monotonic()
        for sid in [s for s, at in self._released.items() if now - at > RELEASED_FOR_S]:
            del self._released[sid]
        return call_sid in self._released

    @property
    def caller_id(self) -> str | None:
        return self._settings.caller_id

    async def dial(
        self, to: str, from_: str, stream: StreamTarget, status_url: str, ring_timeout_s: int
    ) -> str:
        s = self._settings
        fields = {
            "From": to,  # Exotel's word for the number it rings first
            "CallerId": from_,
            "Url": flow_url(s),
            "CustomField": seal(stream, s.webhook_password),
            "StatusCallback": with_userinfo(status_url, s.webhook_user, s.webhook_password),
            "StatusCallbackEvents[0]": "terminal",
            "StatusCallbackEvents[1]": "answered",
            "StatusCallbackContentType": "application/x-www-form-urlencoded",
            "TimeOut": str(ring_timeout_s),
        }
        return await self._rest.connect(fields)

    async def hang_up(self, carrier_call_id: str) -> None:
        """Nothing to send: the bridge closes the leg's media socket next, and the flow's
        Hangup applet ends the call. A dial not yet answered rings on until its TimeOut; if it
        is answered, its flow is turned away (on this instance) and hangs up."""
        self.released(carrier_call_id)  # prunes
        self._released[carrier_call_id] = time.monotonic()
        log.info("exotel_hang_up_by_stream_close", call_sid=carrier_call_id)

    async def redirect(self, carrier_call_id: str, to: Redirect) -> None:
        log.warning(
            "exotel_redirect_unsupported",
            call_sid=carrier_call_id,
            wanted=type(to).__name__,
            detail="Exotel can neither speak nor transfer a live call; the stream's close "
            "ends the call instead",
        )

    async def settle(self, timeout_s: float) -> None:
        """Nothing is left to a later webhook: every end is a socket close."""

    async def close(self) -> None:
        await self._rest.close()


class ExotelCarrier:
    def __init__(self, settings: ExotelSettings) -> None:
        self._settings = settings
        self._control = ExotelControl(ExotelRest(settings), settings)

    @property
    def name(self) -> str:
        return NAME

    @property
    def speaks(self) -> bool:
        return False

    @property
    def control(self) -> CarrierControl:
        return self._control

    def media_stream(self, call_id: str) -> ExotelMediaStream:
        return ExotelMediaStream()

    def upgrade_refusal(self, request: web.Request, public_url: str) -> str | None:
        refusal = self._refusal(request)
        if refusal is None:
            return None
        log.warning("media_upgrade_rejected", reason=refusal, path=request.path)
        return (
            f"Exotel media upgrade refused: {refusal}. The stream URL the bridge hands Exotel "
            "carries EXOTEL_WEBHOOK_USER and EXOTEL_WEBHOOK_PASSWORD; check both settings."
        )

    def _refusal(self, request: web.Request) -> str | None:
        s = self._settings
        return basic_refusal(request.headers.get(AUTHORIZATION), s.webhook_user, s.webhook_password)

    async def read_webhook(self, request: web.Request, public_url: str, kind: str) -> Webhook:
        refusal = self._refusal(request)
        if refusal is not None:
            log.warning("exotel_webhook_rejected", path=request.path, reason=refusal)
            raise WebhookRefused(
                403, f"Exotel webhook refused: {refusal}. {CREDENTIALS_HINT}", NAME
            )
        fields = await _fields(request)
        if kind == "status":
            raw = fields.get("Status") or fields.get("CallStatus") or ""
            return StatusChanged(
                carrier_call_id=fields.get("CallSid", ""),
                status=STATUSES.get(raw, CallStatus.UNKNOWN),
                raw=raw,
                call_id=request.match_info.get("call_id"),
                role=request.match_info.get("role"),
            )
        if kind != "voice":
            return Ignored(f"Exotel has no {kind} webhook (no spoken menu)")
        custom = fields.get("CustomField", "")
        if custom:
            target = unseal(custom, self._settings.webhook_password)
            call_sid = fields.get("CallSid", "")
            if target is not None and self._control.released(call_sid):
                log.info("exotel_dial_answered_after_hang_up", call_sid=call_sid)
                return Reply(web.Response(status=UNRENDERABLE, text="the call is over\n"))
            if target is not None:  # a leg we dialled: its stream, with no decision to make
                return Reply(self._stream_response(target, call_sid))
            log.warning("exotel_custom_field_not_ours", call_sid=fields.get("CallSid"))
        caller = fields.get("CallFrom") or fields.get("From")
        return IncomingCall(
            to=e164(fields.get("CallTo") or fields.get("To", "")),
            carrier_call_id=fields.get("CallSid") or None,
            caller=e164(caller) if caller else None,
        )

    async def answer(self, call: IncomingCall, answer: Answer) -> web.Response:
        if isinstance(answer, ConnectStream):
            if answer.greeting is not None:
                log.info("exotel_greeting_unsaid", call_sid=call.carrier_call_id)
            return self._stream_response(answer.target, call.carrier_call_id or "")
        log.warning(
            "exotel_answer_unrenderable",
            call_sid=call.carrier_call_id,
            wanted=type(answer).__name__,
            detail="Exotel cannot speak or transfer: the flow's failure branch runs",
        )
        return web.Response(
            status=UNRENDERABLE,
            text=f"Exotel cannot render {type(answer).__name__} (no text-to-speech or transfer "
            "from the Voicebot applet); the flow's failure branch runs.\n",
        )

    def _stream_response(self, target: StreamTarget, call_sid: str) -> web.Response:
        s = self._settings
        try:
            url = stream_url(target, s.webhook_user, s.webhook_password, s.sample_rate)
        except ValueError as exc:
            log.error("exotel_stream_url_unbuildable", call_sid=call_sid, error=str(exc))
            return web.Response(status=UNRENDERABLE, text=f"{exc}\n")
        return web.json_response({"url": url})


def e164(number: str) -> str:
    """`number` as the routes spell numbers. Exotel writes Indian numbers nationally
    ("08047112345", the trunk prefix 0 and ten digits) or as "918047112345"; anything else
    (already "+...", or another country's form) is left as Exotel sent it."""
    number = number.strip()
    if len(number) == 11 and number.startswith("0") and number.isdigit():
        return "+91" + number[1:]
    if len(number) == 12 and number.startswith("91") and number.isdigit():
        return "+" + number
    return number


async def _fields(request: web.Request) -> Mapping[str, str]:
    """The webhook's parameters: the query (the applet GETs) and a form body, if any."""
    fields = {k: v for k, v in request.query.items()}
    if request.method == "POST" and request.can_read_body:
        try:
            form = await request.post()
        except web.HTTPException:
            raise
        except Exception as exc:  # undecodable bodies are the sender's fault, never a 500
            raise WebhookRefused(
                400, f"The body is not a readable form ({str(exc)[:200]}).", NAME
            ) from None
        fields |= {k: v for k, v in form.items() if isinstance(v, str)}
    return fields
