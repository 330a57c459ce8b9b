"""Typed application keys (aiohttp's `web.AppKey`): the app's shared objects, no globals."""

from __future__ import annotations

from aiohttp import web

from bridge.calls.outbound import OutboundDials
from bridge.calls.registry import CallRegistry
from bridge.calls.services import CallServices
from bridge.carriers.twilio.signature import TwilioSignatures
from bridge.config import Config
from bridge.store.recorder import CallRecords

CONFIG = web.AppKey("config", Config)
SERVICES = web.AppKey("services", CallServices)
REGISTRY = web.AppKey("registry", CallRegistry)
OUTBOUND = web.AppKey("outbound", OutboundDials)
SIGNATURES = web.AppKey("signatures", TwilioSignatures)
STORE = web.AppKey("store", CallRecords)
