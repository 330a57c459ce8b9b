"""A carrier's media WebSocket for one leg: authenticate, then shuttle frames to the call.

Mounted once per configured carrier (`/{carrier}/media/{call_id}`). Authentication is two-fold.
Before the upgrade, the carrier's own proof (a signature over the public `wss://` URL, a token)
says the connection comes from the carrier (anything else gets a plain 403). After `start`, the
ticket it carries proves the stream belongs to a call this bridge set up, for exactly this
path's call id, and it is good for this one stream
(bridge/calls/admission.py); otherwise the socket is closed with 1008 and the refusal logged
and counted. A new call that finds the bridge full is told so (the busy message, or the fallback
number) and recorded, never silently hung up. A bad frame, or audio arriving faster than real
time (bridge/audio/inbound_limit.py), ends only this leg (and so its call), with the reason
logged.
"""

from __future__ import annotations

import asyncio
import time

import structlog
from aiohttp import WSMessage, WSMsgType, web

from bridge.audio.inbound_limit import InboundLimit
from bridge.audio.playout import PlayoutBuffer
from bridge.calls.admission import admit, refusal_summary
from bridge.calls.call import Call
from bridge.calls.connection import AddedDelays, LegConnection
from bridge.calls.model import EndReason, Role
from bridge.calls.refusals import CallLimitReached, StreamRefused
from bridge.calls.tickets import Ticket, TicketError, verify
from bridge.carriers.base import (
    CarrierWarning,
    Dtmf,
    MarkPlayed,
    Media,
    MediaStreamProtocol,
    ProtocolViolation,
    Started,
    Stopped,
)
from bridge.carriers.interface import Carrier, CarrierError
from bridge.log import describe
from bridge.web.keys import CARRIERS, CONFIG, OUTBOUND, REGISTRY, SERVICES, STORE

log = structlog.get_logger(__name__)
MAX_MESSAGE_BYTES = 64 * 1024  # carriers' frames are ~300 bytes; this leaves room for odd peers
CLOSE_TIMEOUT_S = 2.0  # a peer that ignores our close frame must not hold up a call's teardown
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


async def media_stream(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings = app[CONFIG].bridge
    call_id = request.match_info["call_id"]
    carrier = app[CARRIERS][request.match_info["carrier"]]
    metrics = app[SERVICES].metrics
    refusal = carrier.upgrade_refusal(request, settings.public_url)
    if refusal is not None:
        metrics.webhook_rejections.labels(f"{carrier.name}_media_upgrade").inc()
        raise web.HTTPForbidden(text=refusal + "\n")

    protocol = carrier.media_stream(call_id)
    ws = web.WebSocketResponse(
        max_msg_size=MAX_MESSAGE_BYTES, timeout=CLOSE_TIMEOUT_S, heartbeat=protocol.heartbeat_s
    )
    await ws.prepare(request)
    try:
        started = await _wait_for_start(ws, protocol, settings.start_timeout_s)
        started_at = time.monotonic()  # media is timed from here (see InboundLimit)
        ticket = verify(
            started.custom_parameters.get("ticket"),
            settings.secret,
            call_id=call_id,
            now=time.time(),
        )
    except (ProtocolViolation, TicketError, TimeoutError) as exc:
        reason = (
            exc.reason if isinstance(exc, ProtocolViolation) else str(exc) or "no start in time"
        )
        log.warning("media_stream_refused", call_id=call_id, reason=reason)
        metrics.webhook_rejections.labels(f"{carrier.name}_media_ticket").inc()
        metrics.media_refusals.labels("bad_start").inc()
        await ws.close(code=POLICY_VIOLATION, message=reason[:120].encode())
        return ws
    try:
        call = await admit(
            app[REGISTRY],
            app[STORE],
            ticket,
            carrier=carrier.name,
            stream_id=started.stream_id,
            carrier_call_id=started.call_id,
        )
    except StreamRefused as exc:
        await _refuse(app, ws, carrier, ticket, started, exc)
        return ws
    app[OUTBOUND].pop(call_id)  # an outbound dial is now a live call

    async def send(frame: str | bytes) -> None:
        if isinstance(frame, str):
            await ws.send_str(frame)
        else:
            await ws.send_bytes(frame)

    async def close(code: int, message: str) -> None:
        await ws.close(code=code, message=message.encode()[:120])

    delays = AddedDelays(metrics.outbound_latency)
    connection = LegConnection(
        protocol,
        send,
        close,
        PlayoutBuffer(
            protocol.media_format,
            lead_ms=settings.playout_lead_ms,
            prebuffer_ms=settings.playout_prebuffer_ms,
            on_latency=delays.outbound_observed,
            max_queue_ms=settings.playout_max_queue_ms,
        ),
        stream_id=started.stream_id,
        carrier_call_id=started.call_id,
        carrier=carrier.name,
        delays=delays,
    )
    try:
        await call.attach(ticket.role, connection)
    except StreamRefused as exc:
        await _refuse(app, ws, carrier, ticket, started, exc)
        return ws
    reason = "connection lost"
    try:
        reason = await _pump(ws, protocol, call, ticket.role, connection, started_at)
    finally:
        await call.detach(ticket.role, connection, reason)
    return ws


async def _refuse(
    app: web.Application,
    ws: web.WebSocketResponse,
    carrier: Carrier,
    ticket: Ticket,
    started: Started,
    refusal: StreamRefused,
) -> None:
    """Closes a stream that may not attach. A new call refused for capacity is told so first
    (closing first would let the carrier hang up on a silent line) and recorded."""
    services = app[SERVICES]
    bound = log.bind(call_id=ticket.call_id, leg=ticket.role.value, stream_id=started.stream_id)
    bound.warning("media_stream_refused", reason=refusal.reason, refusal=refusal.label)
    services.metrics.media_refusals.labels(refusal.label).inc()
    if not isinstance(refusal, CallLimitReached):
        await ws.close(code=POLICY_VIOLATION, message=refusal.reason[:120].encode())
        return
    try:
        await services.control.turn_away(carrier.name, started.call_id)
    except CarrierError as exc:
        bound.warning("turn_away_failed", error=describe(exc))
        services.metrics.carrier_errors.labels("turn_away").inc()
    summary = refusal_summary(
        ticket,
        EndReason.BRIDGE_FULL,
        refusal.reason,
        carrier.name,
        started.call_id,
        services.clock(),
    )
    app[REGISTRY].remember(summary)
    await ws.close(code=TRY_AGAIN_LATER, message=b"bridge at capacity")


async def _wait_for_start(
    ws: web.WebSocketResponse, protocol: MediaStreamProtocol, timeout_s: float
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
    protocol: MediaStreamProtocol,
    call: Call,
    role: Role,
    connection: LegConnection,
    started_at: float,
) -> str:
    """Feeds the call until the leg ends; returns why it ended (for the log)."""
    on_media, clock = call.on_media, time.monotonic
    limit = InboundLimit(protocol.media_format, started_at)
    carrier_clock = connection.buffer.observe_inbound  # the carrier's clock rate, for playout
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT and msg.type is not WSMsgType.BINARY:
                _refused_by_aiohttp(msg)
                return f"socket {msg.type.name.lower()}"
            event = protocol.parse(msg.data)
            if type(event) is Media:
                payload = event.payload
                now = clock()
                if (too_much := limit.check(len(payload), now)) is not None:
                    raise ProtocolViolation(too_much)
                carrier_clock(limit.received_s, now)
                on_media(role, connection, payload)
            elif isinstance(event, MarkPlayed):
                call.on_mark(role, event.name)
            elif isinstance(event, Stopped):
                return "carrier sent stop"
            elif isinstance(event, Dtmf):
                log.info("dtmf_received", call_id=call.id, leg=role.value)  # digits may be a PIN
            elif isinstance(event, CarrierWarning):  # the carrier did not like a frame of ours
                log.warning(
                    "carrier_warning",
                    call_id=call.id,
                    leg=role.value,
                    code=event.code,
                    detail=event.message[:200],
                )
    except ProtocolViolation as exc:
        log.warning("media_protocol_violation", call_id=call.id, leg=role.value, reason=exc.reason)
        # Decided before the first await: a peer that drops the connection now gets this
        # handler cancelled, and the call must still end as a violation, not as a hang-up.
        call.request_end(EndReason.PROTOCOL_ERROR, detail=f"{role.value}: {exc.reason}")
        await connection.close(POLICY_VIOLATION, exc.reason)
        return f"protocol violation: {exc.reason}"
    return "socket closed"
