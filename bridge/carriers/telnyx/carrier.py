"""Telnyx behind the carrier interface (bridge/carriers/interface.py), with Call Control v2.

Unlike Twilio, a Telnyx call is driven by REST commands answering webhook events: the voice
webhook (the Call Control application's URL, `/telnyx/voice`) gets `call.initiated`, and the
bridge answers it by `answer` (with the media stream's parameters), `speak`, `gather` or
`transfer`, then acknowledges the webhook with a plain 200. Steps that must wait for an earlier
one to finish (speak the greeting, *then* stream; speak the apology, *then* hang up) ride in
`client_state`, which Telnyx hands back on the next event (`call.speak.ended`).

Webhooks are verified with Ed25519 (signature.py); a media upgrade must carry the
`stream_auth_token` we gave the stream, a keyed hash of its path, so any instance can check it.
Closing the media socket does not end a Telnyx call, so every hang-up is a REST `hangup`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from bridge.carriers.interface import (
    Answer,
    AskForDigit,
    CallStatus,
    CarrierControl,
    CarrierError,
    ConnectStream,
    Ignored,
    IncomingCall,
    Redirect,
    SayAndHangUp,
    Speech,
    StatusChanged,
    StreamTarget,
    Transfer,
    Webhook,
    WebhookRefused,
)
from bridge.carriers.telnyx.config import TelnyxSettings
from bridge.carriers.telnyx.hangups import PendingHangUps
from bridge.carriers.telnyx.protocol import TelnyxMediaStream
from bridge.carriers.telnyx.rest import TelnyxRest
from bridge.carriers.telnyx.signature import (
    SIGNATURE_HEADER,
    STREAM_TOKEN_HEADER,
    TIMESTAMP_HEADER,
    TelnyxSignatures,
    stream_token,
    stream_token_refusal,
)

log = structlog.get_logger(__name__)
NAME = "telnyx"
DEFAULT_LANGUAGE = "en-US"
HANGUP_CAUSES = {
    "normal_clearing": CallStatus.COMPLETED,
    "timeout": CallStatus.NO_ANSWER,
    "no_answer": CallStatus.NO_ANSWER,
    "user_busy": CallStatus.BUSY,
    "call_rejected": CallStatus.BUSY,
    "originator_cancel": CallStatus.CANCELED,
}
MENU_TIMEOUT_MS = 5000
PROMPT_EVENTS = frozenset({"call.gather.ended", "call.speak.ended"})
GONE = frozenset({"call_hangup", "cancelled"})  # a prompt ended by the call ending


def encode_state(state: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def decode_state(raw: object) -> dict[str, Any]:
    """Our `client_state` back from Telnyx; {} for anything else (it is echoed, not trusted
    beyond what the signature already proves)."""
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        state = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return {}
    return state if isinstance(state, dict) else {}


def speech_fields(speech: Speech) -> dict[str, Any]:
    return {
        "payload": speech.text,
        "voice": speech.voice or "female",
        "language": speech.language or DEFAULT_LANGUAGE,
    }


class TelnyxControl:
    def __init__(self, rest: TelnyxRest, settings: TelnyxSettings) -> None:
        self.rest = rest
        self._settings = settings
        self._hangups = PendingHangUps()  # told to speak, then hang up (bridge/.../hangups.py)
        self._hung_up = asyncio.Event()  # pulsed when one of those is over

    @property
    def caller_id(self) -> str | None:
        return self._settings.caller_id

    def stream_fields(self, target: StreamTarget) -> dict[str, Any]:
        """What `answer`, `streaming_start` and a dial need to stream to `target` in `rtp`
        mode (the default `mp3` mode would drop the raw audio we send back, carriers.md §4.1)."""
        codec = self._settings.codec
        return {
            "stream_url": target.url,
            "stream_track": "inbound_track",
            "stream_codec": codec,
            "stream_bidirectional_mode": "rtp",
            "stream_bidirectional_codec": codec,
            "stream_bidirectional_sampling_rate": 8000,
            "stream_auth_token": stream_token(self._settings.api_key, urlsplit(target.url).path),
            "custom_parameters": [{"name": k, "value": v} for k, v in target.parameters.items()],
        }

    async def dial(
        self, to: str, from_: str, stream: StreamTarget, status_url: str, ring_timeout_s: int
    ) -> str:
        fields = {
            **self.stream_fields(stream),
            "timeout_secs": ring_timeout_s,
            "webhook_url": status_url,
            "webhook_url_method": "POST",
        }
        return await self.rest.dial(to, from_, fields)

    async def hang_up(self, carrier_call_id: str) -> None:
        await self.rest.hang_up(carrier_call_id)
        self.call_ended(carrier_call_id)

    def call_ended(self, carrier_call_id: str) -> None:
        """The call is over (hung up here, or its `call.hangup` came): no hang-up is owed."""
        if self._hangups.done(carrier_call_id):
            self._hung_up.set()

    async def settle(self, timeout_s: float) -> None:
        """Let the calls told to speak and then hang up finish speaking (their hang-up needs
        the `call.speak.ended` webhook), for up to `timeout_s`; then hang up the rest now."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                while self._hangups.pending(time.monotonic()):
                    self._hung_up.clear()
                    await self._hung_up.wait()
        for ccid in self._hangups.pending(time.monotonic()):
            log.info("telnyx_speech_cut_short", call_control_id=ccid)
            try:
                await self.hang_up(ccid)
            except CarrierError as exc:
                log.warning("hang_up_failed", call_control_id=ccid, error=str(exc))

    async def redirect(self, carrier_call_id: str, to: Redirect) -> None:
        try:  # the stream must not keep playing over what the party is to hear now
            await self.rest.action(carrier_call_id, "streaming_stop")
        except CarrierError as exc:
            log.debug("telnyx_streaming_stop_failed", error=str(exc))
        if isinstance(to, SayAndHangUp):
            await self.say_then_hang_up(carrier_call_id, to.speech)
        else:
            await self.rest.action(carrier_call_id, "transfer", {"to": to.number})

    async def say_then_hang_up(self, carrier_call_id: str, speech: tuple[Speech, ...]) -> None:
        """One `speak` (its parts joined); `call.speak.ended` then hangs up (read_webhook)."""
        first = speech[0] if speech else Speech("")
        spoken = Speech(" ".join(part.text for part in speech), first.language, first.voice)
        fields = speech_fields(spoken) | {"client_state": encode_state({"then": "hangup"})}
        await self.rest.action(carrier_call_id, "speak", fields)
        self._hangups.speaking(carrier_call_id, time.monotonic())

    async def close(self) -> None:
        await self.rest.close()


class TelnyxCarrier:
    def __init__(self, settings: TelnyxSettings) -> None:
        self._settings = settings
        self._signatures = TelnyxSignatures(settings.public_key, settings.webhook_tolerance_s)
        self._control = TelnyxControl(TelnyxRest(settings), settings)

    @property
    def name(self) -> str:
        return NAME

    @property
    def speaks(self) -> bool:
        return True

    @property
    def control(self) -> CarrierControl:
        return self._control

    def media_stream(self, call_id: str) -> TelnyxMediaStream:
        return TelnyxMediaStream()

    def upgrade_refusal(self, request: web.Request, public_url: str) -> str | None:
        presented = request.headers.get(STREAM_TOKEN_HEADER)
        path = request.rel_url.raw_path  # as the token was made: from the URL, still encoded
        refusal = stream_token_refusal(self._settings.api_key, path, presented)
        if refusal is not None:
            log.warning("media_upgrade_rejected", reason=refusal, path=request.path)
        return refusal

    async def read_webhook(self, request: web.Request, public_url: str, kind: str) -> Webhook:
        body = await request.read()
        refusal = self._signatures.refusal(
            body,
            request.headers.get(SIGNATURE_HEADER),
            request.headers.get(TIMESTAMP_HEADER),
            time.time(),
        )
        if refusal is not None:
            log.warning("telnyx_signature_rejected", path=request.path, reason=refusal)
            raise WebhookRefused(
                403,
                f"Telnyx webhook refused: {refusal}. Check that TELNYX_PUBLIC_KEY is the "
                "account's public key (Mission Control, Keys & Credentials) and that the "
                "clocks agree.",
                "telnyx_webhook",
            )
        try:
            data = json.loads(body)["data"]
            event, payload = data["event_type"], data["payload"]
            if not isinstance(event, str) or not isinstance(payload, dict):
                raise TypeError("event_type or payload has the wrong type")
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookRefused(
                400, f"not a Telnyx webhook event ({exc!r:.200})", "telnyx_webhook"
            ) from None
        return await self._event(request, kind, event, payload)

    async def _event(
        self, request: web.Request, kind: str, event: str, payload: dict[str, Any]
    ) -> Webhook:
        ccid = str(payload.get("call_control_id") or "")
        state = decode_state(payload.get("client_state"))
        if event in PROMPT_EVENTS and payload.get("status") in GONE:
            return Ignored(f"{event}: the caller hung up meanwhile")  # its call.hangup follows
        if event == "call.initiated" and payload.get("direction") == "incoming":
            return IncomingCall(str(payload.get("to", "")), ccid or None, _opt(payload, "from"))
        if event == "call.gather.ended":
            digits = payload.get("digits")
            return IncomingCall(
                str(payload.get("to", "")),
                ccid or None,
                _opt(payload, "from"),
                digits=digits if isinstance(digits, str) else "",
                context={"answered": True},
            )
        if event == "call.speak.ended":
            await self._after_speech(ccid, state)
            return Ignored("speech ended")
        status = {
            "call.initiated": CallStatus.INITIATED,
            "call.answered": CallStatus.ANSWERED,
        }.get(event)
        if event == "call.hangup":
            self._control.call_ended(ccid)
            cause = str(payload.get("hangup_cause", ""))
            status = HANGUP_CAUSES.get(cause, CallStatus.FAILED)
            event = f"{event}:{cause}"
        if status is None:
            if event == "streaming.failed":
                log.warning("telnyx_streaming_failed", call_control_id=ccid, detail=payload)
            return Ignored(event)
        call_id = request.match_info.get("call_id") if kind == "status" else state.get("c")
        role = request.match_info.get("role") if kind == "status" else state.get("r")
        return StatusChanged(ccid, status, event, _str_or_none(call_id), _str_or_none(role))

    async def _after_speech(self, ccid: str, state: Mapping[str, Any]) -> None:
        """The step that waited for a `speak` to finish."""
        try:
            if state.get("then") == "hangup":
                await self._control.hang_up(ccid)
            elif state.get("then") == "stream" and isinstance(state.get("u"), str):
                raw = state.get("p")
                params = raw if isinstance(raw, dict) else {}
                target = StreamTarget(state["u"], {str(k): str(v) for k, v in params.items()})
                fields = self._control.stream_fields(target)
                fields["client_state"] = encode_state({"c": state.get("c"), "r": state.get("r")})
                await self._control.rest.action(ccid, "streaming_start", fields)
        except CarrierError as exc:
            log.warning("telnyx_follow_up_failed", call_control_id=ccid, error=str(exc))

    async def answer(self, call: IncomingCall, answer: Answer) -> web.Response:
        ccid = call.carrier_call_id
        if ccid is None:
            raise WebhookRefused(400, "a call event without a call_control_id", "telnyx_webhook")
        try:
            await self._answer(ccid, bool(call.context.get("answered")), answer)
        except CarrierError as exc:  # acknowledged all the same: a retry would answer twice
            log.warning("telnyx_answer_failed", call_control_id=ccid, error=str(exc))
        return web.Response(status=200)

    async def _answer(self, ccid: str, answered: bool, answer: Answer) -> None:
        rest, control = self._control.rest, self._control
        if isinstance(answer, ConnectStream):
            target = answer.target
            state = {"c": urlsplit(target.url).path.rsplit("/", 1)[-1], "r": "customer"}
            if answer.greeting is None:
                fields = control.stream_fields(target) | {"client_state": encode_state(state)}
                await rest.action(ccid, "streaming_start" if answered else "answer", fields)
                return
            if not answered:
                await rest.action(ccid, "answer", {"client_state": encode_state(state)})
            later = state | {"then": "stream", "u": target.url, "p": dict(target.parameters)}
            fields = speech_fields(answer.greeting) | {"client_state": encode_state(later)}
            await rest.action(ccid, "speak", fields)
            return
        if not answered:
            await rest.action(ccid, "answer")
        if isinstance(answer, AskForDigit):
            fields = speech_fields(answer.prompt) | {
                "minimum_digits": 1,
                "maximum_digits": 1,
                "timeout_millis": MENU_TIMEOUT_MS,
                "valid_digits": "0123456789*#",
            }
            await rest.action(ccid, "gather_using_speak", fields)
        elif isinstance(answer, SayAndHangUp):
            await control.say_then_hang_up(ccid, answer.speech)
        else:
            assert isinstance(answer, Transfer)
            await rest.action(ccid, "transfer", {"to": answer.number})


def _opt(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
