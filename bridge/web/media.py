"""The carrier's media WebSocket for one leg: authenticate, then shuttle frames to the call.

Authentication is two-fold. Before the upgrade, Twilio's signature over the public `wss://` URL
proves the connection comes from Twilio (anything else gets a plain 403, which Twilio logs as
31920). After `start`, the ticket in its custom parameters proves the stream belongs to a call
this bridge set up, for exactly this path's call id; otherwise the socket is closed with 1008.
A bad frame ends only this leg (and so its call), with the reason logged.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiohttp import WSMessage, WSMsgType, web

from bridge.audio.playout import PlayoutBuffer
from bridge.calls.call import Call
from bridge.calls.connection import LegConnection
from bridge.calls.model import EndReason, Role
from bridge.calls.registry import CallLimitReached
from bridge.calls.tickets import TicketError, verify
from bridge.carriers.base import Dtmf, MarkPlayed, Media, ProtocolViolation, Started, Stopped
from bridge.carriers.twilio import TwilioMediaStream
from bridge.carriers.twilio_signature import SIGNATURE_HEADER, public_ws_url
from bridge.web.keys import CONFIG, OUTBOUND, REGISTRY, SERVICES, SIGNATURES

log = structlog.get_logger(__name__)
MAX_MESSAGE_BYTES = 64 * 1024  # Twilio's frames are ~300 bytes; this leaves room for odd peers
CLOSE_TIMEOUT_S = 2.0  # a peer that ignores our close frame must not hold up a call's teardown
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


async def media_stream(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings = app[CONFIG].bridge
    call_id = request.match_info["call_id"]
    url = public_ws_url(settings.public_url, request.path)
    if not app[SIGNATURES].validate_upgrade(url, request.headers.get(SIGNATURE_HEADER)):
        log.warning(
            "media_upgrade_rejected",
            call_id=call_id,
            reason="bad X-Twilio-Signature",
            signed_url=url,
        )
        app[SERVICES].metrics.webhook_rejections.labels("twilio_media_upgrade").inc()
        raise web.HTTPForbidden(text="X-Twilio-Signature does not match this stream URL\n")

    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, timeout=CLOSE_TIMEOUT_S)
    await ws.prepare(request)
    protocol = TwilioMediaStream()
    try:
        started = await _wait_for_start(ws, protocol, settings.start_timeout_s)
        ticket = verify(
            started.custom_parameters.get("ticket"),
            settings.secret,
            call_id=call_id,
            now=time.time(),
        )
        call = app[REGISTRY].get_or_create(ticket)
    except (ProtocolViolation, TicketError, TimeoutError) as exc:
        reason = (
            exc.reason if isinstance(exc, ProtocolViolation) else str(exc) or "no start in time"
        )
        log.warning("media_stream_refused", call_id=call_id, reason=reason)
        app[SERVICES].metrics.webhook_rejections.labels("twilio_media_ticket").inc()
        await ws.close(code=POLICY_VIOLATION, message=reason[:120].encode())
        return ws
    except CallLimitReached as exc:
        log.warning("media_stream_refused", call_id=call_id, reason=str(exc))
        await ws.close(code=TRY_AGAIN_LATER, message=b"bridge at capacity")
        return ws
    app[OUTBOUND].pop(call_id)  # an outbound dial is now a live call

    async def close(code: int, message: str) -> None:
        await ws.close(code=code, message=message.encode()[:120])

    connection = LegConnection(
        protocol,
        ws.send_str,
        close,
        PlayoutBuffer(
            protocol.media_format,
            lead_ms=settings.playout_lead_ms,
            prebuffer_ms=settings.playout_prebuffer_ms,
            on_latency=app[SERVICES].metrics.outbound_latency,
            max_queue_ms=settings.playout_max_queue_ms,
        ),
        stream_id=started.stream_id,
        carrier_call_id=started.call_id,
    )
    reason = "connection lost"
    try:
        await call.attach(ticket.role, connection)
        reason = await _pump(ws, protocol, call, ticket.role, connection)
    finally:
        await call.detach(ticket.role, connection, reason)
    return ws


async def _wait_for_start(
    ws: web.WebSocketResponse, protocol: TwilioMediaStream, timeout_s: float
) -> Started:
    async with asyncio.timeout(timeout_s):
        async for msg in ws:
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                _refused_by_aiohttp(msg)
                break
            event = protocol.parse(msg.data)
            if isinstance(event, Started):
                return event
    raise ProtocolViolation("socket closed before 'start'")


def _refused_by_aiohttp(msg: WSMessage) -> None:
    """aiohttp reads frames before we do: one it refuses (over the size limit, text that is not
    UTF-8) arrives as an ERROR. That is the peer breaking the protocol, and the log should say how."""
    if msg.type is WSMsgType.ERROR:
        raise ProtocolViolation(f"unreadable frame: {msg.data}")


async def _pump(
    ws: web.WebSocketResponse,
    protocol: TwilioMediaStream,
    call: Call,
    role: Role,
    connection: LegConnection,
) -> str:
    """Feeds the call until the leg ends; returns why it ended (for the log)."""
    on_media = call.on_media
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT and msg.type is not WSMsgType.BINARY:
                _refused_by_aiohttp(msg)
                return f"socket {msg.type.name.lower()}"
            event = protocol.parse(msg.data)
            if type(event) is Media:
                on_media(role, connection, event.payload)
            elif isinstance(event, MarkPlayed):
                call.on_mark(role, event.name)
            elif isinstance(event, Stopped):
                return "carrier sent stop"
            elif isinstance(event, Dtmf):
                log.info("dtmf_received", call_id=call.id, leg=role.value)  # digits may be a PIN
    except ProtocolViolation as exc:
        log.warning("media_protocol_violation", call_id=call.id, leg=role.value, reason=exc.reason)
        # Decided before the first await: a peer that drops the connection now gets this
        # handler cancelled, and the call must still end as a violation, not as a hang-up.
        call.request_end(EndReason.PROTOCOL_ERROR, detail=f"{role.value}: {exc.reason}")
        await connection.close(POLICY_VIOLATION, exc.reason)
        return f"protocol violation: {exc.reason}"
    return "socket closed"
