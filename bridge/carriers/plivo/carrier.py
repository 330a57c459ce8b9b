"""Plivo behind the carrier interface (bridge/carriers/interface.py).

Webhooks are form posts (or GETs) signed with V3 over the public URL Plivo called
(signature.py); answers are Plivo XML in the response (documents.py). Documents Plivo fetches
by URL (a dialled leg's stream, a redirect) come back to the voice webhook with a signed token
in the query and are answered as a `Reply`, without the bridge deciding anything. The media
upgrade must carry the stream token our `<Stream>` URL had (tokens.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from aiohttp import web

from bridge.carriers.interface import (
    Answer,
    AskForDigit,
    CallStatus,
    CarrierControl,
    ConnectStream,
    Ignored,
    IncomingCall,
    Reply,
    SayAndHangUp,
    Speech,
    StatusChanged,
    StreamTarget,
    Webhook,
    WebhookRefused,
)
from bridge.carriers.plivo import documents, extra_headers
from bridge.carriers.plivo.config import PlivoSettings
from bridge.carriers.plivo.control import NAME, PlivoControl
from bridge.carriers.plivo.protocol import PlivoMediaStream
from bridge.carriers.plivo.rest import PlivoRest
from bridge.carriers.plivo.signature import NONCE_HEADER, SIGNATURE_HEADER, PlivoSignatures
from bridge.carriers.plivo.tokens import (
    STREAM_TOKEN_PARAM,
    open_document,
    stream_token,
    stream_token_refusal,
)

log = structlog.get_logger(__name__)
STATUSES = {
    "queued": CallStatus.INITIATED,
    "ringing": CallStatus.RINGING,
    "in-progress": CallStatus.ANSWERED,
    "completed": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no-answer": CallStatus.NO_ANSWER,
    "timeout": CallStatus.NO_ANSWER,
    "cancel": CallStatus.CANCELED,
    "failed": CallStatus.FAILED,
}
METRIC = "plivo_webhook"


def e164(number: str) -> str:
    """Plivo writes numbers without the `+` (`14155551234`); routes are keyed with it."""
    return "+" + number if number.isascii() and number.isdigit() else number


def _xml(text: str) -> web.Response:
    return web.Response(text=text, content_type="application/xml")


class PlivoCarrier:
    def __init__(self, settings: PlivoSettings) -> None:
        self._settings = settings
        self._signatures = PlivoSignatures(settings.auth_token)
        self._control = PlivoControl(PlivoRest(settings), settings)

    @property
    def name(self) -> str:
        return NAME

    @property
    def speaks(self) -> bool:
        return True

    @property
    def control(self) -> CarrierControl:
        return self._control

    def media_stream(self, call_id: str) -> PlivoMediaStream:
        return PlivoMediaStream(self._settings.audio_format, self._control.learn)

    def upgrade_refusal(self, request: web.Request, public_url: str) -> str | None:
        self._control.public_url = public_url
        presented = request.query.get(STREAM_TOKEN_PARAM)
        call_id = request.match_info.get("call_id", "")
        refusal = stream_token_refusal(self._settings.auth_token, call_id, presented)
        if refusal is not None:
            log.warning("media_upgrade_rejected", reason=refusal, path=request.path)
        return refusal

    def stream_url(self, target: StreamTarget) -> str:
        call_id = target.url.rstrip("/").rsplit("/", 1)[-1]
        token = stream_token(self._settings.auth_token, call_id)
        return f"{target.url}?{STREAM_TOKEN_PARAM}={token}"

    async def read_webhook(self, request: web.Request, public_url: str, kind: str) -> Webhook:
        self._control.public_url = public_url
        fields = await self._verified_fields(request, public_url)
        call_uuid = fields.get("CallUUID", "")
        request_uuid = fields.get("RequestUUID", "")
        self._control.learn(request_uuid, call_uuid)
        if "dial" in request.query or "redirect" in request.query:
            return self._document(request, request_uuid)
        raw = fields.get("CallStatus", "")
        if kind == "status":
            return StatusChanged(
                carrier_call_id=request_uuid or call_uuid,
                status=STATUSES.get(raw, CallStatus.UNKNOWN),
                raw=raw,
                call_id=request.match_info.get("call_id"),
                role=request.match_info.get("role"),
            )
        if kind == "voice" and STATUSES.get(raw, CallStatus.UNKNOWN).over:
            return Ignored(f"call {raw}")  # the application's hangup URL pointed here
        caller = fields.get("From")
        return IncomingCall(
            to=e164(fields.get("To", "")),
            carrier_call_id=call_uuid or None,
            caller=e164(caller) if caller is not None else None,
            digits=fields.get("Digits", "") if kind == "menu" else None,
        )

    def _document(self, request: web.Request, request_uuid: str) -> Reply:
        """A document we put in a URL for Plivo to fetch (control.py): rendered from its
        token, if the token is ours."""
        kind = "dial" if "dial" in request.query else "redirect"
        content = open_document(self._settings.auth_token, request.query.get(kind, ""))
        if content is None or content.get("k") != kind:
            log.warning("plivo_document_token_rejected", kind=kind)
            raise WebhookRefused(
                403,
                f"the '{kind}' document token was not made with this PLIVO_AUTH_TOKEN "
                "(a URL from another bridge, or an altered one)",
                METRIC,
            )
        try:
            return Reply(_xml(self._render(kind, content, request_uuid)))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise WebhookRefused(
                400, f"unreadable '{kind}' document: {exc!r:.200}", METRIC
            ) from None

    def _render(self, kind: str, content: Mapping[str, Any], request_uuid: str) -> str:
        if kind == "dial":
            target = StreamTarget(
                str(content["u"]), {str(k): str(v) for k, v in content["p"].items()}
            )
            headers = extra_headers.render(dict(target.parameters), request_uuid or None)
            return documents.stream_xml(
                self.stream_url(target), headers, self._settings.content_type, None
            )
        if "n" in content:
            return documents.transfer_xml(str(content["n"]))
        speech = tuple(Speech(str(text), lang, voice) for text, lang, voice in content["s"])
        return documents.say_hangup_xml(speech)

    async def answer(self, call: IncomingCall, answer: Answer) -> web.Response:
        if isinstance(answer, ConnectStream):
            target = answer.target
            try:
                headers = extra_headers.render(dict(target.parameters))
            except ValueError as exc:
                log.error("plivo_stream_parameters_refused", error=str(exc))
                return _xml(documents.hangup_xml())
            url = self.stream_url(target)
            content_type = self._settings.content_type
            return _xml(documents.stream_xml(url, headers, content_type, answer.greeting))
        if isinstance(answer, AskForDigit):
            return _xml(documents.menu_xml(answer.prompt, answer.action_url))
        if isinstance(answer, SayAndHangUp):
            return _xml(documents.say_hangup_xml(answer.speech))
        return _xml(documents.transfer_xml(answer.number))

    async def _verified_fields(self, request: web.Request, public_url: str) -> dict[str, str]:
        """The webhook's fields (query and form), if Plivo signed the request (403 otherwise;
        400 for a body that is not a form)."""
        pairs: list[tuple[str, str]] = []
        if request.method == "POST":
            try:
                form = await request.post()
            except web.HTTPException:
                raise  # 413: over the app's body limit
            except Exception as exc:  # aiohttp's many errors for unreadable bodies: the sender's
                log.warning("plivo_webhook_unreadable", path=request.path, error=str(exc)[:200])
                raise WebhookRefused(
                    400,
                    f"The body is not a readable form ({str(exc)[:200]}); Plivo sends "
                    "application/x-www-form-urlencoded UTF-8.",
                    METRIC,
                ) from None
            pairs = [(k, v) for k, v in form.items() if isinstance(v, str)]
        url = public_url.rstrip("/") + request.rel_url.raw_path
        if request.rel_url.raw_query_string:
            url += "?" + request.rel_url.raw_query_string
        refusal = self._signatures.refusal(
            request.method,
            url,
            pairs,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(NONCE_HEADER),
        )
        if refusal is not None:
            log.warning("plivo_signature_rejected", path=request.path, reason=refusal)
            raise WebhookRefused(
                403,
                f"Plivo webhook refused: {refusal}. Check that PLIVO_AUTH_TOKEN is the auth "
                "token of the account (or subaccount) that owns the application, and that "
                "BRIDGE_PUBLIC_URL is the URL Plivo calls.",
                METRIC,
            )
        fields = {k: v for k, v in request.query.items()}
        fields.update(pairs)
        return fields
