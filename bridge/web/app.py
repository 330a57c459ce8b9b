"""The application factory: routes, and the resources that live as long as the app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web

from bridge.calls.model import EndReason
from bridge.calls.outbound import OutboundDials
from bridge.calls.registry import CallRegistry
from bridge.calls.services import CallServices
from bridge.calls.twilio_control import TwilioCallControl
from bridge.carriers.twilio_config import TwilioSettings
from bridge.carriers.twilio_rest import TwilioRest
from bridge.carriers.twilio_signature import TwilioSignatures
from bridge.config import Config
from bridge.kallglot.rest import KallglotClient
from bridge.web import api, health, media, twilio_hooks
from bridge.web.keys import CONFIG, OUTBOUND, REGISTRY, SERVICES, SIGNATURES

MAX_BODY_BYTES = 64 * 1024  # Twilio webhooks are a few KB; nothing legitimate is bigger


def create_app(config: Config) -> web.Application:
    if config.twilio is None:
        raise ValueError(
            "create_app needs Twilio settings (serve starts the carrier simulator when unset)"
        )
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[CONFIG] = config
    app[SIGNATURES] = TwilioSignatures(config.twilio.auth_token)
    app.cleanup_ctx.append(_services(config, config.twilio))
    app.router.add_post("/twilio/voice", twilio_hooks.voice)
    app.router.add_post(twilio_hooks.MENU_PATH, twilio_hooks.voice_menu)
    app.router.add_post("/twilio/status/{call_id}/{role}", twilio_hooks.call_status)
    app.router.add_get("/twilio/media/{call_id}", media.media_stream)
    app.router.add_post("/v1/calls", api.create_call)
    app.router.add_get("/v1/calls", api.list_calls)
    app.router.add_get("/v1/calls/{call_id}", api.get_call)
    app.router.add_delete("/v1/calls/{call_id}", api.hang_up_call)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    return app


def _services(
    config: Config, twilio: TwilioSettings
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http:
            rest = TwilioRest(twilio)
            services = CallServices(
                settings=config.bridge,
                kallglot=KallglotClient(http, config.kallglot),
                kallglot_settings=config.kallglot,
                control=TwilioCallControl(rest, config.bridge, twilio.caller_id),
            )
            app[SERVICES] = services
            app[REGISTRY] = CallRegistry(services)
            app[OUTBOUND] = OutboundDials(ttl_s=config.bridge.ring_timeout_s + 120)
            try:
                yield
            finally:
                await app[REGISTRY].end_all(EndReason.SHUTDOWN)
                await rest.close()

    return context
