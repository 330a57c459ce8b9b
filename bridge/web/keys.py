"""Typed application keys (aiohttp's `web.AppKey`): the app's shared objects, no globals."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from bridge.calls.outbound import OutboundDials
from bridge.calls.registry import CallRegistry
from bridge.calls.services import CallServices
from bridge.carriers.interface import Carrier
from bridge.config import Config
from bridge.store.recorder import CallRecords

CONFIG = web.AppKey("config", Config)
SERVICES = web.AppKey("services", CallServices)
REGISTRY = web.AppKey("registry", CallRegistry)
OUTBOUND = web.AppKey("outbound", OutboundDials)
CARRIERS: web.AppKey[Mapping[str, Carrier]] = web.AppKey("carriers")  # by name: the configured ones
STORE = web.AppKey("store", CallRecords)
