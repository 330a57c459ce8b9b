"""The application factory: routes, and the resources that live as long as the app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from functools import partial

import aiohttp
import structlog
from aiohttp import web

from bridge.calls.control import CallControl
from bridge.calls.model import EndReason
from bridge.calls.outbound import OutboundDials
from bridge.calls.registry import CallRegistry
from bridge.calls.services import CallServices
from bridge.calls.session_ledger import SessionLedger
from bridge.carriers import registry as carrier_registry
from bridge.carriers.interface import Carrier
from bridge.config import Config
from bridge.kallglot.rest import KallglotClient
from bridge.metrics import Metrics
from bridge.store.recorder import CallRecords, open_call_records
from bridge.web import (
    api,
    carrier_hooks,
    console_pages,
    console_sockets,
    health,
    kallglot_hooks,
    media,
    openapi,
)
from bridge.web.kallglot_watch import DEFAULT_WATCH, WatchTiming, watching_kallglot
from bridge.web.keys import CARRIERS, CONFIG, OUTBOUND, REGISTRY, SERVICES, STORE

MAX_BODY_BYTES = 64 * 1024  # carrier webhooks are a few KB; nothing legitimate is bigger
# Sent by a load balancer that tries another instance when one answers 503 (deploy/nginx).
BALANCER_RETRY_HEADER = "X-Balancer-Retry"
log = structlog.get_logger(__name__)


def create_app(config: Config, *, kallglot_watch: WatchTiming = DEFAULT_WATCH) -> web.Application:
    """`kallglot_watch`: how readiness follows Kallglot (tests shorten it)."""
    if not config.carriers:
        raise ValueError(
            "create_app needs a carrier account (serve starts a simulated carrier when none is)"
        )
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[offer_new_calls_elsewhere])
    app[CONFIG] = config
    app[CARRIERS] = carriers = carrier_registry.build(config.carriers)
    app.cleanup_ctx.append(_services(config, carriers, kallglot_watch))
    names = "|".join(carrier_registry.phone_carriers(carriers))  # their webhooks
    for method in ("GET", "POST"):  # Vonage's answer webhook and Exotel's applet use GET
        app.router.add_route(
            method, f"/{{carrier:{names}}}/voice", carrier_hooks.voice, name=f"voice_{method}"
        )
        app.router.add_route(
            method,
            f"/{{carrier:{names}}}/voice/menu",
            carrier_hooks.voice_menu,
            name=f"menu_{method}",
        )
    app.router.add_post(
        f"/{{carrier:{names}}}/status/{{call_id}}/{{role}}", carrier_hooks.call_status
    )
    every = "|".join(carriers)  # media streams: the carriers' and the console's browser leg
    app.router.add_get(f"/{{carrier:{every}}}/media/{{call_id}}", media.media_stream)
    app.router.add_post("/v1/calls", api.create_call)
    app.router.add_get("/v1/calls", api.list_calls)
    app.router.add_get("/v1/calls/{call_id}", api.get_call)
    app.router.add_delete("/v1/calls/{call_id}", api.hang_up_call)
    app.router.add_get("/v1/openapi.json", openapi.openapi_document)
    app.router.add_post("/v1/agents/{agent_id}/console-links", console_pages.console_link)
    app.router.add_get("/console", console_pages.page)
    app.router.add_get("/console/static/{name}", console_pages.static)
    app.router.add_get("/console/api/me", console_pages.me)
    app.router.add_get("/console/desk", console_sockets.desk_socket)
    # A call's console paths start /console/calls/{call_id}/: a cluster hashes them on the id.
    app.router.add_post("/console/calls/{call_id}/answer", console_pages.answer)
    app.router.add_post("/console/calls/{call_id}/decline", console_pages.decline)
    app.router.add_post("/console/calls/{call_id}/hangup", console_pages.hang_up)
    app.router.add_get("/console/calls/{call_id}/captions", console_sockets.captions_socket)
    app.router.add_post("/kallglot/webhooks", kallglot_hooks.receive)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    return app


def _services(
    config: Config, carriers: Mapping[str, Carrier], watch: WatchTiming
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        metrics = Metrics()
        async with aiohttp.ClientSession() as http, open_call_records(config.store) as records:
            kallglot = KallglotClient(http, config.kallglot)
            ledger = SessionLedger(kallglot, records, records.instance, metrics)
            records.watch_instances(ledger.adopt)
            try:
                async with (
                    _calls(app, config, carriers, kallglot, records, ledger, metrics),
                    watching_kallglot(http, config.kallglot, app[SERVICES].health, watch),
                ):
                    yield
            finally:
                await ledger.close()  # what it could not settle stays in the records

    return context


@asynccontextmanager
async def _calls(
    app: web.Application,
    config: Config,
    carriers: Mapping[str, Carrier],
    kallglot: KallglotClient,
    records: CallRecords,
    sessions: SessionLedger,
    metrics: Metrics,
) -> AsyncIterator[None]:
    """The call machinery, which lives inside the call records; at its end every call ends."""
    services = CallServices(
        settings=config.bridge,
        kallglot=kallglot,
        kallglot_settings=config.kallglot,
        control=CallControl(carriers, config.bridge),
        sessions=sessions,
        metrics=metrics,
    )
    app[SERVICES] = services
    app[STORE] = records
    app[REGISTRY] = registry = CallRegistry(
        services,
        records.call_ended,
        on_created=records.call_created,
        on_progress=records.call_progressed,
        on_remembered=records.summary_remembered,
    )
    app[OUTBOUND] = OutboundDials(ttl_s=config.bridge.ring_timeout_s + 120)
    console_pages.desk(app).connect(partial(carrier_hooks.status_changed, app))
    services.metrics.watch(
        live_legs=lambda: (sample for call in registry.live() for sample in call.leg_samples()),
        active_calls=lambda: len(registry),
        kallglot_retries=lambda: services.kallglot.retries,
        unconfirmed_sessions=lambda: sessions.owed,
    )
    try:
        yield
    finally:
        await registry.end_all(EndReason.SHUTDOWN)
        for carrier in carriers.values():
            await carrier.control.close()


NEW_CALL_ROUTES = frozenset(
    {"voice_GET", "voice_POST", "menu_GET", "menu_POST"}
)  # a new call's webhooks (create_app)


@web.middleware
async def offer_new_calls_elsewhere(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Behind a balancer that retries, a draining (or full) instance turns new calls away.

    A new call's voice webhook gets 503 so the balancer offers it to the next instance. While
    draining, so does any carrier request for a call this instance does not have: a call id
    hashes to the same instance every time, so every leg of such a call is turned away here
    and lands together on the same next instance, while the calls this instance has are served
    to the end. (Only draining, which never reverts: an instance merely full could free a slot
    between two legs of one call and split it.) Without the balancer's header (a lone
    instance) the handlers answer as they always do, with the busy message.
    """
    app = request.app
    registry = app[REGISTRY]
    if BALANCER_RETRY_HEADER in request.headers and not registry.accepting():
        call_id = request.match_info.get("call_id")
        from_carrier = "carrier" in request.match_info
        if call_id is None:
            refuse = request.match_info.route.name in NEW_CALL_ROUTES
        else:
            ours = registry.get(call_id) or app[OUTBOUND].get(call_id)
            refuse = registry.draining and from_carrier and ours is None
        if refuse:
            log.info("new_call_sent_elsewhere", path=request.path, call_id=call_id)
            raise web.HTTPServiceUnavailable(text="this instance takes no new calls\n")
    return await handler(request)
